"""How long plans take, from their arguments and the configured speeds and overheads.

The estimates follow what the plans do: the monochromator moves first (approaching from
below by its backlash, settling after each leg), then the zone plate follows; each raster
costs the detector's image overhead, the piezo's move to its first pixel, and per line the
pixels' dwell plus the line overhead. Every plan records its estimate in its start
document (``estimated_duration_s``); ``operando`` refuses a period too short for a pass.
"""

import itertools
from collections.abc import Sequence

from ..config import BeamlineConfig
from ..limits import stage_placement


def energy_move_s(config: BeamlineConfig, from_eV: float, to_eV: float) -> float:
    """A monochromator move with the zone plate following, s."""
    mono = config.mono
    if to_eV >= from_eV - 1e-9 or mono.backlash_eV <= 0:
        mono_s = abs(to_eV - from_eV) / mono.velocity_eV_s + mono.settle_time_s
    else:  # down past the target by the backlash, then up to it: two legs, two settles
        approach = max(to_eV - mono.backlash_eV, min(mono.energy_limits_eV))
        travel = (from_eV - approach) + (to_eV - approach)
        mono_s = travel / mono.velocity_eV_s + 2 * mono.settle_time_s
    zone_plate = config.zone_plate
    zp_travel = abs(zone_plate.focus_z_um(to_eV) - zone_plate.focus_z_um(from_eV))
    return mono_s + zp_travel / zone_plate.z_velocity_um_s


def energy_series_s(
    config: BeamlineConfig, start_eV: float | None, energies: Sequence[float]
) -> float:
    """Stepping the energy through ``energies`` (eV) from ``start_eV`` (the first energy
    if unknown), s."""
    moves = [energies[0] if start_eV is None else start_eV, *energies]
    return sum(energy_move_s(config, a, b) for a, b in itertools.pairwise(moves))


def raster_corners_um(
    center_x_um: float, center_y_um: float, num_x: int, num_y: int, step_nm: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The first and last pixel of a raster (x, y), um."""
    half_x, half_y = (num_x - 1) * step_nm / 2e3, (num_y - 1) * step_nm / 2e3
    return (
        (center_x_um - half_x, center_y_um - half_y),
        (center_x_um + half_x, center_y_um + half_y),
    )


def raster_s(
    config: BeamlineConfig, num_x: int, num_y: int, dwell_ms: float, step_nm: float
) -> float:
    """A raster flown line by line, s: per line the controller's overhead and the counting,
    with the fly-back (both axes at once, to the next line's start) between lines."""
    detector = config.detector
    line_s = num_x * dwell_ms / 1e3 + detector.line_overhead_ms / 1e3
    fly_back_um = max(num_x - 1, 1) * step_nm / 1e3
    fly_back_s = (num_y - 1) * fly_back_um / config.stage.fine_velocity_um_s
    return num_y * line_s + fly_back_s


def imaging_pass_s(
    config: BeamlineConfig,
    rois: Sequence,
    energies: Sequence[float],
    step_nm: float,
    dwell_ms: float,
    start_eV: float | None = None,
    start_xy: tuple[float, float] | None = None,
) -> float:
    """One imaging pass: at each energy, a raster of each ROI (``ParticleROI``-like:
    center_x_um, center_y_um on the sample holder, num_x, num_y), the coarse stage moving
    between ROIs beyond the fine stage's reach, s.

    ``start_eV`` and ``start_xy`` (um) are where the monochromator and the fine stage start;
    by default where the last pass ended (the coarse stage too), as in the passes of
    ``operando`` after the first. Given a start, the coarse stage's first move (if any) is
    not counted.
    """
    energy = energies[-1] if start_eV is None else start_eV
    position = start_xy
    placements = [
        stage_placement(config, r.center_x_um, r.center_y_um, r.num_x, r.num_y, step_nm)
        for r in rois
    ]
    coarse = placements[-1][0] if start_eV is None else None
    total = 0.0
    for next_energy in energies:
        total += energy_move_s(config, energy, next_energy)
        energy = next_energy
        for roi, (roi_coarse, (fine_x, fine_y)) in zip(rois, placements, strict=True):
            if coarse is not None and roi_coarse != coarse:  # one axis after the other
                distance = abs(roi_coarse[0] - coarse[0]) + abs(roi_coarse[1] - coarse[1])
                total += distance / config.stage.coarse_velocity_um_s
            coarse = roi_coarse
            first, last = raster_corners_um(fine_x, fine_y, roi.num_x, roi.num_y, step_nm)
            if position is not None:
                distance = max(abs(first[0] - position[0]), abs(first[1] - position[1]))
                total += distance / config.stage.fine_velocity_um_s
            total += raster_s(config, roi.num_x, roi.num_y, dwell_ms, step_nm)
            position = last
    return total


def focus_scan_s(
    config: BeamlineConfig,
    roi,
    offsets_um: Sequence[float],
    dwell_ms: float,
    step_nm: float,
    images: int,
) -> float:
    """A focus scan's zone-plate steps (from the focus through each offset, um, and back)
    and ``images`` rasters of ``roi``, s."""
    steps = [0.0, *offsets_um, 0.0]
    travel = sum(abs(b - a) for a, b in itertools.pairwise(steps))
    rasters = images * raster_s(config, roi.num_x, roi.num_y, dwell_ms, step_nm)
    return rasters + travel / config.zone_plate.z_velocity_um_s


def longest_dwell_ms(
    config: BeamlineConfig,
    rois: Sequence,
    energies: Sequence[float],
    step_nm: float,
    period_s: float,
) -> float:
    """The longest dwell (ms) with which an imaging pass fits in ``period_s``; 0 if none
    does (the pass costs more than ``period_s`` even without counting)."""
    fixed = imaging_pass_s(config, rois, energies, step_nm, 0.0)
    per_ms = imaging_pass_s(config, rois, energies, step_nm, 1.0) - fixed
    return max((period_s - fixed) / per_ms, 0.0)


def step_duration_s(step, current_A: float, capacity_C: float) -> float | None:
    """A protocol step's longest duration, s: its ``duration_s``, the time its
    ``until_capacity`` takes at its current, or for a voltage cutoff the time to pass the
    whole capacity (a bound); None when only a current threshold ends it."""
    bounds = []
    if getattr(step, "duration_s", None) is not None:
        bounds.append(step.duration_s)
    if current_A:
        fraction = getattr(step, "until_capacity", None)
        if fraction is None and getattr(step, "until_V", None) is not None:
            fraction = 1.0
        if fraction is not None:
            bounds.append(fraction * capacity_C / abs(current_A))
    return min(bounds) if bounds else None


def protocol_s(armed_steps: Sequence, capacity_C: float) -> float | None:
    """The longest duration of a protocol of ``ArmedStep``s, s (None if a step has none)."""
    durations = [step_duration_s(a.step, a.current_A, capacity_C) for a in armed_steps]
    return None if None in durations else float(sum(durations))
