"""Spectra plans: XANES at a point or along a line, over energy regions with their own
steps and dwells (the low-dose way to take reference spectra)."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
from bluesky.utils import MsgGenerator

from ..devices import Beamline
from .dose import DoseTally
from .estimates import energy_series_s, raster_s
from .imaging import ParticleROI, go_to_raster, open_run_with_estimate
from .lines import fly_raster
from .metadata import standard_md
from .validation import (
    as_dataclass,
    check_count,
    check_dwell,
    check_energies,
    check_md,
    check_positive,
    check_raster,
    eager_plan,
    is_number,
    require,
)


@dataclass(frozen=True)
class EnergyRegion:
    """Energies from ``start_eV`` to ``stop_eV`` (included when on the grid) every
    ``step_eV``, each counted for ``dwell_ms``."""

    start_eV: float
    stop_eV: float
    step_eV: float
    dwell_ms: float

    def energies(self) -> np.ndarray:
        """The region's energies, eV."""
        count = int(np.floor((self.stop_eV - self.start_eV) / self.step_eV + 1e-9)) + 1
        return self.start_eV + self.step_eV * np.arange(count)


def as_region(value) -> EnergyRegion:
    """An EnergyRegion, or one from a dict of its fields (as a queue server sends it)."""
    return as_dataclass(EnergyRegion, value)


def check_regions(beamline: Beamline, regions: Sequence) -> list[tuple[float, float]]:
    """(energy eV, dwell ms) of every point of ``regions``: each region inside the
    monochromator's range with positive step and dwell, the regions in rising order
    without overlap."""
    regions = [as_region(r) for r in regions]
    require(len(regions) > 0, "at least one energy region is needed")
    points = []
    for region in regions:
        require(
            all(map(is_number, (region.start_eV, region.stop_eV))),
            f"region bounds must be numbers in eV, got {region}",
        )
        check_positive(region.step_eV, "step_eV", "eV")
        check_dwell(region.dwell_ms)
        require(region.stop_eV >= region.start_eV, f"a region must rise: {region}")
        energies = check_energies(beamline, region.energies())
        if points:
            require(
                energies[0] > points[-1][0],
                f"regions must rise without overlapping: {region} starts at or below "
                f"{points[-1][0]} eV",
            )
        points += [(energy, float(region.dwell_ms)) for energy in energies]
    return points


def _spectrum_md(plan_name, beamline, detector, plan_args, points, md):
    energies = [e for e, _ in points]
    return standard_md(
        plan_name,
        beamline,
        {"beamline": beamline.name} | plan_args,
        [detector],
        [([beamline.scanner.energy.name], "primary")],
        {"energies": energies, "num_points": len(points)} | check_md(md),
    )


@eager_plan
def point_spectrum(
    beamline: Beamline,
    x_um: float,
    y_um: float,
    regions: Sequence[EnergyRegion],
    md: dict | None = None,
) -> MsgGenerator:
    """XANES at one point of the sample holder (um; the coarse stage brings it within the
    fine stage's reach): the point detector counts at each energy of each region for that
    region's dwell; one event per energy."""
    (coarse_x, coarse_y), (fine_x, fine_y) = check_raster(beamline, x_um, y_um, 1, 1, 1.0, 1.0)
    points = check_regions(beamline, regions)
    plan_args = {"x_um": x_um, "y_um": y_um, "regions": [asdict(as_region(r)) for r in regions]}
    metadata = _spectrum_md("point_spectrum", beamline, beamline.point, plan_args, points, md)
    scanner, point = beamline.scanner, beamline.point
    config = beamline.config

    def estimate(energy_now: float | None, xy) -> float:
        energies = [e for e, _ in points]
        counting = sum(dwell / 1e3 for _, dwell in points)
        return energy_series_s(config, energy_now, energies) + counting

    def plan():
        yield from open_run_with_estimate(beamline, metadata, estimate)
        yield from bps.mv(scanner.coarse_x, coarse_x, scanner.coarse_y, coarse_y)
        yield from bps.mv(scanner.fine_x, fine_x, scanner.fine_y, fine_y)
        for energy, dwell in points:
            yield from bps.mv(scanner, energy, point.dwell, dwell)
            yield from bps.trigger_and_read([point, scanner, beamline.shutter, beamline.clock])
        return (yield from bps.close_run())

    return bpp.stage_wrapper(plan(), [point])


@eager_plan
def line_spectrum(
    beamline: Beamline,
    center_x_um: float,
    center_y_um: float,
    num_points: int,
    regions: Sequence[EnergyRegion],
    step_nm: float = 40.0,
    md: dict | None = None,
) -> MsgGenerator:
    """XANES along a line (along x, ``num_points`` pixels of ``step_nm`` centred on the
    point of the sample holder given in um): at each energy one raster line with that
    region's dwell; one event (the line) per energy, with the recorded positions."""
    num_points = check_count(num_points, "num_points")
    points = check_regions(beamline, regions)
    line = ParticleROI(0, float(center_x_um), float(center_y_um), num_points, 1)
    for dwell in {d for _, d in points}:
        check_raster(beamline, line.center_x_um, line.center_y_um, num_points, 1, step_nm, dwell)
    plan_args = {
        "center_x_um": center_x_um,
        "center_y_um": center_y_um,
        "num_points": num_points,
        "regions": [asdict(as_region(r)) for r in regions],
        "step_nm": step_nm,
    }
    metadata = _spectrum_md("line_spectrum", beamline, beamline.raster, plan_args, points, md)
    config = beamline.config

    def estimate(energy_now: float | None, xy) -> float:
        energies = [e for e, _ in points]
        counting = sum(raster_s(config, num_points, 1, dwell, step_nm) for _, dwell in points)
        return energy_series_s(config, energy_now, energies) + counting

    def plan():
        yield from open_run_with_estimate(beamline, metadata, estimate)
        dose = DoseTally(beamline, [line], step_nm)
        for energy, dwell in points:
            yield from bps.mv(beamline.scanner, energy)
            yield from go_to_raster(beamline, line, step_nm, dwell)
            image = yield from fly_raster(beamline, 1, [beamline.scanner, beamline.clock])
            dose.add(line.particle_id, image)
        yield from dose.record()
        return (yield from bps.close_run())

    return bpp.stage_wrapper(plan(), [beamline.raster])
