"""Imaging plans: two-energy images, XANES stacks, focus scans and particle finding."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import MsgGenerator
from ophyd import Signal

from ..analysis import best_focus, edge_sharpness
from ..devices import Beamline
from ..devices.scanner import calibrated_focus_z_um
from ..limits import stage_placement
from ..streams import particle_stream
from .dose import DoseTally
from .estimates import focus_scan_s, imaging_pass_s
from .lines import fly_raster
from .metadata import standard_md
from .validation import (
    as_dataclass,
    check_count,
    check_energies,
    check_md,
    check_numbers,
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
        return particle_stream(self.particle_id)


def as_roi(value) -> ParticleROI:
    """A ParticleROI, or one from a dict of its fields (as a queue server sends it)."""
    return as_dataclass(ParticleROI, value)


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


def go_to_raster(beamline: Beamline, roi: ParticleROI, step_nm: float, dwell_ms: float):
    """Bring ``roi`` (centred in sample-holder coordinates, um) within the fine stage's
    reach, moving the coarse stage if it must (``limits.stage_placement``), and write its
    raster (plan stub)."""
    (coarse_x, coarse_y), (fine_x, fine_y) = stage_placement(
        beamline.config, roi.center_x_um, roi.center_y_um, roi.num_x, roi.num_y, step_nm
    )
    scanner = beamline.scanner
    yield from bps.mv(scanner.coarse_x, coarse_x, scanner.coarse_y, coarse_y)
    yield from configure_raster(beamline, fine_x, fine_y, roi.num_x, roi.num_y, step_nm, dwell_ms)


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
    *observers,
):
    """Inside an open run: at each energy, one raster per ROI, into that ROI's stream.

    Each raster is flown line by line (``fly_raster``): each event holds one line with
    each point's recorded position, the energy and the shutter's exposure, and the
    zone-plate Z, the potentiostat readings, the beamline clock and ``frame`` (the imaging
    pass, shared by the images of all energies; the same signal for the whole run) as read
    at the start of its event page. Each image goes to every observer's
    ``add(particle_id, image)`` (a ``DoseTally``, a ``RoiTracker``), as an ``ImageReading``
    (None when simulated without devices).
    """
    devices = [beamline.scanner, beamline.potentiostat, beamline.clock, frame]
    for energy in energies:
        yield from bps.mv(beamline.scanner, energy)
        for roi in rois:
            yield from go_to_raster(beamline, roi, step_nm, dwell_ms)
            image = yield from fly_raster(beamline, roi.num_y, devices, roi.stream_name())
            for observer in observers:
                observer.add(roi.particle_id, image)


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


def pass_estimate(beamline, rois, energies, step_nm, dwell_ms):
    return lambda energy, xy: imaging_pass_s(
        beamline.config, rois, energies, step_nm, dwell_ms, start_eV=energy, start_xy=xy
    )


def _image_run(plan_name, beamline, rois, energies, step_nm, dwell_ms, md):
    """A run of one imaging pass of ``rois`` (one ROI: ``two_energy_image``, ``stack``)."""
    plan_args = {
        "roi": asdict(rois[0]),
        "energies": energies,
        "dwell_ms": dwell_ms,
        "step_nm": step_nm,
    }
    yield from open_run_with_estimate(
        beamline,
        image_md(plan_name, beamline, rois, energies, step_nm, dwell_ms, plan_args, md),
        pass_estimate(beamline, rois, energies, step_nm, dwell_ms),
    )
    dose = DoseTally(beamline, rois, step_nm)
    yield from image_particles(beamline, rois, energies, step_nm, dwell_ms, frame_counter(), dose)
    yield from dose.record()
    return (yield from bps.close_run())


def image_md(
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
        beamline,
        {"beamline": beamline.name} | plan_args,
        [beamline.raster],
        dimensions,
        searchable | check_md(md),
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
    return bpp.stage_wrapper(
        _image_run("two_energy_image", beamline, rois, energies, step_nm, dwell_ms, md),
        [beamline.raster],
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
    return bpp.stage_wrapper(
        _image_run("stack", beamline, rois, energies, step_nm, dwell_ms, md), [beamline.raster]
    )


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
    offsets = check_numbers(defocus_um, "defocus_um", "um")
    require(len(offsets) >= 3, "a focus scan needs at least three Z offsets")
    check_focus_travel(beamline.config.zone_plate.focus_z_um(energy), offsets, beamline)

    plan_args = {
        "roi": asdict(rois[0]),
        "defocus_um": offsets,
        "energy": energy,
        "dwell_ms": dwell_ms,
        "step_nm": step_nm,
    }
    metadata = image_md(
        "focus_scan",
        beamline,
        rois,
        [energy],
        step_nm,
        dwell_ms,
        plan_args,
        {"defocus_um": offsets} | check_md(md),
        dimensions=[([beamline.scanner.zp_z.name], "primary")],
    )

    scanner = beamline.scanner

    def estimate(energy_now: float | None, xy: tuple[float, float] | None) -> float:
        config = beamline.config
        return imaging_pass_s(
            config, rois, [energy], step_nm, dwell_ms, start_eV=energy_now, start_xy=xy
        ) + focus_scan_s(config, roi, offsets, dwell_ms, step_nm, images=len(offsets) - 1)

    def plan():
        # the calibration as it is when the plan runs (not when it was built)
        calibrated = yield from bps.rd(scanner.focus_offset, default_value=0.0)
        mode = yield from bps.rd(scanner.focus_mode, default_value="sample")
        a0 = yield from bps.rd(scanner.a0, default_value=0.0)
        focus = calibrated_focus_z_um(beamline.config, energy, calibrated, mode, a0)
        check_focus_travel(focus, offsets, beamline)
        yield from open_run_with_estimate(beamline, metadata, estimate)
        yield from bps.mv(scanner, energy)
        yield from go_to_raster(beamline, roi, step_nm, dwell_ms)
        sharpness, dose = [], DoseTally(beamline, rois, step_nm)
        for offset in offsets:
            yield from bps.mv(scanner.zp_z, focus + offset)
            image = yield from fly_raster(beamline, roi.num_y, [scanner])
            sharpness.append(edge_sharpness(image.counts) if image else 0.0)
            dose.add(roi.particle_id, image)
        calibration = calibrated + best_focus(offsets, sharpness)
        yield from bps.mv(scanner.focus_offset, calibration)
        yield from bps.mv(scanner, energy)  # the zone plate to the new focus
        yield from dose.record()
        yield from bps.close_run()
        return calibration

    return bpp.stage_wrapper(plan(), [beamline.raster])


def check_focus_travel(focus_z_um: float, offsets_um: Sequence[float], beamline: Beamline) -> None:
    """The zone plate's Z at the focus plus every offset (um) within its travel."""
    low, high = beamline.config.zone_plate.z_travel_um
    require(
        all(low <= focus_z_um + d <= high for d in offsets_um),
        f"zone-plate Z {focus_z_um:.1f} + offsets {list(offsets_um)} um leaves its travel "
        f"[{low}, {high}]",
    )
