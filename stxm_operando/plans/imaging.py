"""Imaging plans: two-energy images, XANES stacks, focus scans and particle finding."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import bluesky.plan_stubs as bps
import numpy as np
from bluesky.utils import MsgGenerator
from ophyd import Signal

from ..analysis import (
    best_focus,
    edge_sharpness,
    optical_density,
    particle_mask,
    unmix_two_energy,
)
from ..analysis.pipeline import blank_region
from ..devices import Beamline
from ..physics.spectra import ReferenceSpectra
from .estimates import focus_scan_s, imaging_pass_s
from .metadata import standard_md
from .validation import (
    PlanArgumentError,
    check_count,
    check_energies,
    check_positive,
    check_raster,
    eager_plan,
    is_count,
    is_number,
    require,
)

FE_L3_ENERGIES_EV = (708.2, 710.2)
"""Fe2+ and Fe3+ L3 peaks, eV."""


@dataclass(frozen=True)
class ParticleROI:
    """A raster region around one particle: centre (um) and size (pixels)."""

    particle_id: int
    center_x_um: float
    center_y_um: float
    num_x: int
    num_y: int

    def stream_name(self) -> str:
        """Name of the event stream holding this particle's images."""
        return f"particle_{self.particle_id}"


def as_roi(value) -> ParticleROI:
    """A ParticleROI, or one from a dict of its fields (as a queue server sends it)."""
    if isinstance(value, ParticleROI):
        return value
    try:
        return ParticleROI(**value)
    except TypeError:
        raise PlanArgumentError(
            f"a ROI is a ParticleROI or a dict of particle_id, center_x_um, center_y_um, "
            f"num_x, num_y; got {value!r}"
        ) from None


def check_rois(
    beamline: Beamline, rois: Sequence[ParticleROI], step_nm: float, dwell_ms: float
) -> tuple[ParticleROI, ...]:
    """ROIs with unique ids whose rasters the stage and detector can do, as plain Python
    numbers (numpy's are accepted)."""
    checked = []
    for roi in map(as_roi, rois):
        require(
            is_count(roi.particle_id) and roi.particle_id >= 0,
            f"particle ids are whole numbers >= 0 (they name streams), got {roi.particle_id!r}",
        )
        require(
            is_number(roi.center_x_um) and is_number(roi.center_y_um),
            f"ROI centre must be finite numbers in um, got {roi.center_x_um!r}, "
            f"{roi.center_y_um!r}",
        )
        checked.append(
            ParticleROI(
                int(roi.particle_id),
                float(roi.center_x_um),
                float(roi.center_y_um),
                check_count(roi.num_x, "num_x"),
                check_count(roi.num_y, "num_y"),
            )
        )
    rois = tuple(checked)
    require(len(rois) > 0, "at least one particle ROI is needed")
    ids = [r.particle_id for r in rois]
    require(len(set(ids)) == len(ids), f"particle ids must be unique, got {ids}")
    for roi in rois:
        check_raster(
            beamline, roi.center_x_um, roi.center_y_um, roi.num_x, roi.num_y, step_nm, dwell_ms
        )
    return rois


def configure_raster(
    beamline: Beamline,
    center_x_um: float,
    center_y_um: float,
    num_x: int,
    num_y: int,
    step_nm: float,
    dwell_ms: float,
):
    """Write the raster settings (um, px, nm, ms) to the detector (plan stub)."""
    raster = beamline.raster
    yield from bps.mv(
        raster.center_x,
        center_x_um,
        raster.center_y,
        center_y_um,
        raster.num_x,
        num_x,
        raster.num_y,
        num_y,
        raster.step,
        step_nm,
        raster.dwell,
        dwell_ms,
    )


def frame_counter() -> Signal:
    """The soft signal that tags each image with its imaging pass (``frame_index``)."""
    return Signal(name="frame_index", value=0, kind="hinted")


def image_particles(
    beamline: Beamline,
    rois: Sequence[ParticleROI],
    energies: Sequence[float],
    step_nm: float,
    dwell_ms: float,
    frame: Signal,
):
    """Inside an open run: at each energy, one raster per ROI, into that ROI's stream.

    Each event holds the whole image with each pixel's recorded position, the energy and
    zone-plate Z, the potentiostat readings, the beamline clock and ``frame`` (the imaging
    pass, shared by the images of all energies; the same signal for the whole run).
    """
    for energy in energies:
        yield from bps.mv(beamline.scanner, energy)
        for roi in rois:
            yield from configure_raster(
                beamline, roi.center_x_um, roi.center_y_um, roi.num_x, roi.num_y, step_nm, dwell_ms
            )
            yield from bps.trigger_and_read(
                [beamline.raster, beamline.scanner, beamline.potentiostat, beamline.clock, frame],
                name=roi.stream_name(),
            )


def open_run_with_estimate(beamline: Beamline, metadata: dict, estimate):
    """Open a run whose start document says how long it will take (``estimated_duration_s``)
    from where the beamline is now: ``estimate(energy_eV, (fine_x_um, fine_y_um))``, each
    None if unknown (plan stub)."""
    scanner = beamline.scanner
    energy = yield from bps.rd(scanner.energy, default_value=None)
    x = yield from bps.rd(scanner.fine_x, default_value=None)
    y = yield from bps.rd(scanner.fine_y, default_value=None)
    where = None if x is None or y is None else (x, y)  # None: simulated without a RunEngine
    md = {"estimated_duration_s": estimate(energy, where)} | metadata
    return (yield from bps.open_run(md=md))


def _pass_estimate(beamline, rois, energies, step_nm, dwell_ms):
    return lambda energy, xy: imaging_pass_s(
        beamline.config, rois, energies, step_nm, dwell_ms, start_eV=energy, start_xy=xy
    )


def _image_run(plan_name, beamline, rois, energies, step_nm, dwell_ms, plan_args, md):
    yield from open_run_with_estimate(
        beamline,
        _image_md(plan_name, beamline, rois, energies, step_nm, dwell_ms, plan_args, md),
        _pass_estimate(beamline, rois, energies, step_nm, dwell_ms),
    )
    yield from image_particles(beamline, rois, energies, step_nm, dwell_ms, frame_counter())
    return (yield from bps.close_run())


def _image_md(
    plan_name, beamline, rois, energies, step_nm, dwell_ms, plan_args, md, dimensions=None
):
    """Standard and searchable start-document keys of an imaging run; by default its
    dimension is the energy in each ROI's stream."""
    searchable = {
        "particle_ids": [r.particle_id for r in rois],
        "rois": [asdict(r) for r in rois],
        "energies": list(energies),
        "pixel_size_nm": step_nm,
        "dwell_ms": dwell_ms,
    }
    if dimensions is None:
        dimensions = [([beamline.scanner.energy.name], r.stream_name()) for r in rois]
    return standard_md(
        plan_name,
        {"beamline": beamline.name} | plan_args,
        [beamline.raster],
        dimensions,
        searchable | dict(md or {}),
    )


@eager_plan
def two_energy_image(
    beamline: Beamline,
    roi: ParticleROI,
    energies: Sequence[float] = FE_L3_ENERGIES_EV,
    dwell_ms: float = 1.0,
    step_nm: float = 40.0,
    md: dict | None = None,
) -> MsgGenerator:
    """One raster of a particle at each of two energies (default the Fe L3 pair), one run."""
    energies = check_energies(beamline, energies, count=2)
    rois = check_rois(beamline, [roi], step_nm, dwell_ms)
    plan_args = {
        "roi": asdict(rois[0]),
        "energies": energies,
        "dwell_ms": dwell_ms,
        "step_nm": step_nm,
    }
    return _image_run(
        "two_energy_image", beamline, rois, energies, step_nm, dwell_ms, plan_args, md
    )


@eager_plan
def stack(
    beamline: Beamline,
    roi: ParticleROI,
    energies: Sequence[float],
    dwell_ms: float = 1.0,
    step_nm: float = 40.0,
    md: dict | None = None,
) -> MsgGenerator:
    """XANES image stack: one raster per energy (eV), e.g. for reference spectra."""
    energies = check_energies(beamline, energies)
    require(len(energies) >= 2, "a stack needs at least two energies")
    rois = check_rois(beamline, [roi], step_nm, dwell_ms)
    plan_args = {
        "roi": asdict(rois[0]),
        "energies": energies,
        "dwell_ms": dwell_ms,
        "step_nm": step_nm,
    }
    return _image_run("stack", beamline, rois, energies, step_nm, dwell_ms, plan_args, md)


@eager_plan
def focus_scan(
    beamline: Beamline,
    roi: ParticleROI,
    defocus_um: Sequence[float],
    energy: float = FE_L3_ENERGIES_EV[0],
    dwell_ms: float = 1.0,
    step_nm: float = 40.0,
    md: dict | None = None,
) -> MsgGenerator:
    """Raster a particle at zone-plate Z offsets (um) around the current focus; take the
    sharpest (refined between steps), keep it as the scanner's focus calibration
    (``focus_offset``, used by every later energy move) and return that calibration, um
    from the nominal focus."""
    (energy,) = check_energies(beamline, [energy], count=1)
    rois = check_rois(beamline, [roi], step_nm, dwell_ms)
    (roi,) = rois
    offsets = [float(d) for d in defocus_um]
    require(len(offsets) >= 3, "a focus scan needs at least three Z offsets")
    focus = beamline.scanner.focus_z_um(energy)
    low, high = beamline.config.zone_plate.z_travel_um
    require(
        all(low <= focus + d <= high for d in offsets),
        f"zone-plate Z {focus:.1f} + offsets {offsets} um leaves its travel [{low}, {high}]",
    )

    plan_args = {
        "roi": asdict(rois[0]),
        "defocus_um": offsets,
        "energy": energy,
        "dwell_ms": dwell_ms,
        "step_nm": step_nm,
    }
    metadata = _image_md(
        "focus_scan",
        beamline,
        rois,
        [energy],
        step_nm,
        dwell_ms,
        plan_args,
        {"defocus_um": offsets} | dict(md or {}),
        dimensions=[([beamline.scanner.zp_z.name], "primary")],
    )

    scanner = beamline.scanner

    def estimate(energy_now: float | None, xy: tuple[float, float] | None) -> float:
        config = beamline.config
        return imaging_pass_s(
            config, rois, [energy], step_nm, dwell_ms, start_eV=energy_now, start_xy=xy
        ) + focus_scan_s(config, roi, offsets, dwell_ms, images=len(offsets) - 1)

    def plan():
        yield from open_run_with_estimate(beamline, metadata, estimate)
        yield from bps.mv(scanner, energy)
        yield from configure_raster(
            beamline, roi.center_x_um, roi.center_y_um, roi.num_x, roi.num_y, step_nm, dwell_ms
        )
        sharpness = []
        for offset in offsets:
            yield from bps.mv(scanner.zp_z, focus + offset)
            reading = yield from bps.trigger_and_read([beamline.raster, scanner])
            sharpness.append(edge_sharpness(reading[beamline.raster.image.name]["value"]))
        calibration = (yield from bps.rd(scanner.focus_offset)) + best_focus(offsets, sharpness)
        yield from bps.mv(scanner.focus_offset, calibration)
        yield from bps.mv(scanner, energy)  # the zone plate to the new focus
        yield from bps.close_run()
        return calibration

    return plan()


@eager_plan
def find_particles(
    beamline: Beamline,
    center_x_um: float = 0.0,
    center_y_um: float = 0.0,
    num_x: int = 100,
    num_y: int = 100,
    step_nm: float = 40.0,
    dwell_ms: float = 0.5,
    energies: Sequence[float] = FE_L3_ENERGIES_EV,
    margin_px: int = 4,
    min_thickness_um: float = 0.05,
    md: dict | None = None,
) -> MsgGenerator:
    """Coarse two-energy image of a field; returns one ParticleROI per particle found.

    The ROIs enclose each particle of the thickness mask with ``margin_px`` to spare.
    """
    energies = check_energies(beamline, energies, count=2)
    check_raster(beamline, center_x_um, center_y_um, num_x, num_y, step_nm, dwell_ms)
    check_positive(min_thickness_um, "min_thickness_um", "um")
    field = ParticleROI(-1, center_x_um, center_y_um, num_x, num_y)
    mu = ReferenceSpectra.load_default().mu_matrix(energies)

    plan_args = {
        "center_x_um": center_x_um,
        "center_y_um": center_y_um,
        "num_x": num_x,
        "num_y": num_y,
        "step_nm": step_nm,
        "dwell_ms": dwell_ms,
        "energies": energies,
        "margin_px": margin_px,
        "min_thickness_um": min_thickness_um,
    }
    metadata = _image_md(
        "find_particles", beamline, [field], energies, step_nm, dwell_ms, plan_args, md
    )

    def plan():
        yield from open_run_with_estimate(
            beamline, metadata, _pass_estimate(beamline, [field], energies, step_nm, dwell_ms)
        )
        counts = []
        for energy in energies:
            yield from bps.mv(beamline.scanner, energy)
            yield from configure_raster(
                beamline, center_x_um, center_y_um, num_x, num_y, step_nm, dwell_ms
            )
            reading = yield from bps.trigger_and_read(
                [beamline.raster, beamline.scanner], name=field.stream_name()
            )
            raster = beamline.raster
            counts.append(reading[raster.image.name]["value"])
            positions = (
                reading[raster.x_positions.name]["value"],
                reading[raster.y_positions.name]["value"],
            )
        yield from bps.close_run()
        od = [optical_density(c, blank_mask=blank_region(c)) for c in counts]
        _, thickness = unmix_two_energy(od[0], od[1], mu)
        return rois_from_labels(
            particle_mask(thickness, min_thickness=min_thickness_um), positions, margin_px
        )

    return plan()


def rois_from_labels(
    labels: np.ndarray, positions: tuple[np.ndarray, np.ndarray], margin_px: int
) -> list[ParticleROI]:
    """A ROI per labelled particle, centred on it in stage coordinates (um)."""
    x_um, y_um = (np.asarray(p, dtype=float) for p in positions)
    rois = []
    for label in range(1, int(labels.max()) + 1):
        rows, cols = np.nonzero(labels == label)
        rows_span = rows.max() - rows.min() + 1 + 2 * margin_px
        cols_span = cols.max() - cols.min() + 1 + 2 * margin_px
        rois.append(
            ParticleROI(
                label - 1,
                float(x_um[rows, cols].mean()),
                float(y_um[rows, cols].mean()),
                int(cols_span),
                int(rows_span),
            )
        )
    return rois
