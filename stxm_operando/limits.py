"""The instrument's limits and modes, one rule each, used by the simulator, the IOC, both
device backends and the plans' argument checks alike.

Every check raises ``LimitViolation`` (a ``ValueError``); the devices re-raise it as an
ophyd ``LimitError`` as well (``devices.DeviceLimitError``), which EPICS motors raise too.
"""

import enum
import math
import numbers

from .config import BeamlineConfig, Range


class LimitViolation(ValueError):
    """A position, energy or raster beyond what the instrument can do."""


class ComplianceError(LimitViolation):
    """A setpoint beyond what the potentiostat can deliver."""


class Mode(enum.StrEnum):
    """The potentiostat's control mode. OCV draws no current whatever the output says."""

    OCV = "OCV"
    GALVANOSTATIC = "GALVANOSTATIC"
    POTENTIOSTATIC = "POTENTIOSTATIC"


def check_current(current_A: float, max_current_A: float, capacity_Ah: float) -> None:
    """A current (A) within the potentiostat's compliance ``max_current_A`` (A); the message
    also gives both as C-rates of the electrode's ``capacity_Ah``.

    Examples
    --------
    >>> check_current(1e-5, 2e-5, 1e-6)
    >>> check_current(-3e-5, 2e-5, 1e-6)
    Traceback (most recent call last):
    ...
    stxm_operando.limits.ComplianceError: current -3e-05 A (-30C) is beyond the ... (20C)
    """
    if not (isinstance(current_A, numbers.Real) and math.isfinite(current_A)):
        raise ComplianceError(f"the current must be a finite number of A, got {current_A!r}")
    if abs(current_A) > max_current_A:
        raise ComplianceError(
            f"current {current_A:.3g} A ({current_A / capacity_Ah:.3g}C) is beyond the "
            f"potentiostat compliance +/-{max_current_A:.3g} A ({max_current_A / capacity_Ah:.3g}C)"
        )


def check_voltage(voltage_V: float, limits_V: Range, what: str = "voltage") -> None:
    """A voltage (V) within the potentiostat's window ``limits_V`` (V)."""
    low, high = limits_V
    finite = isinstance(voltage_V, numbers.Real) and math.isfinite(voltage_V)
    if not (finite and low <= voltage_V <= high):
        raise ComplianceError(f"{what} {voltage_V} V is outside the window {low}-{high} V")


def current_for_c_rate(c_rate: float, capacity_Ah: float, max_current_A: float) -> float:
    """The current (A) of a C-rate (1/h; positive lithiates), checked against compliance."""
    if not (isinstance(c_rate, numbers.Real) and math.isfinite(c_rate)):
        raise ComplianceError(f"the C-rate must be a finite number, got {c_rate!r}")
    current = c_rate * capacity_Ah
    check_current(current, max_current_A, capacity_Ah)
    return current


SHUTTER_MODES = ("auto", "open", "closed")
"""``auto``: the detectors open the shutter for each acquisition only (the default);
``open`` / ``closed``: held so, e.g. for alignment or a dark measurement."""


LINE_STATES = ("Idle", "Armed", "Flying", "Done", "Fault")
"""States of the line controller (its ``Status`` record): a line is armed, then flown."""

SCALER_CHANNELS = {"clock": 1, "pmt": 2}
"""Scaler record channels: 1 counts the clock, 2 the transmission detector (PMT)."""


def check_shutter_mode(mode: str) -> None:
    """One of ``SHUTTER_MODES`` (ValueError otherwise)."""
    if mode not in SHUTTER_MODES:
        raise ValueError(f"shutter mode must be one of {SHUTTER_MODES}, got {mode!r}")


def check_travel(axis: str, value: float, limits: Range, unit: str) -> None:
    """``value`` (in ``unit``) within an axis's travel ``limits``."""
    low, high = limits
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and low <= value <= high):
        raise LimitViolation(
            f"{axis} = {value} {unit} is outside its travel [{low}, {high}] {unit}"
        )


def check_energy(config: BeamlineConfig, energy_eV: float) -> None:
    """An energy (eV) the monochromator can reach."""
    low, high = config.mono.energy_limits_eV
    if not (isinstance(energy_eV, numbers.Real) and math.isfinite(energy_eV)):
        raise LimitViolation(f"energy must be a finite number of eV, got {energy_eV!r}")
    if not low <= energy_eV <= high:
        raise LimitViolation(
            f"energy {energy_eV} eV is outside the monochromator range [{low}, {high}] eV"
        )


MAX_LINE_POINTS = 8192
"""Most points one fly-scanned line can hold (the controller's waveform length)."""


MAX_DWELL_MS = 1000.0
"""Longest dwell per point, ms: a second on one spot is more dose than any STXM image of a
battery particle takes, and a typo (1e12) would otherwise hold the beam there for ever."""


def check_dwell(dwell_ms: float) -> None:
    """A dwell (ms) above 0 and at most ``MAX_DWELL_MS``."""
    if not 0 < dwell_ms <= MAX_DWELL_MS:
        raise LimitViolation(
            f"dwell must be above 0 and at most {MAX_DWELL_MS:g} ms, got {dwell_ms}"
        )


def check_raster(
    config: BeamlineConfig,
    center_x_um: float,
    center_y_um: float,
    num_x: int,
    num_y: int,
    step_nm: float,
    dwell_ms: float,
) -> None:
    """A raster (centre um, pixels, pixel size nm, dwell ms) the fine stage, the line
    controller and the detector can do: whole positive pixel counts within the detector's
    largest raster, lines of at most ``MAX_LINE_POINTS``, positive step, a dwell
    ``check_dwell`` takes, every pixel inside the fine stage's travel."""
    values = (center_x_um, center_y_um, num_x, num_y, step_nm, dwell_ms)
    if not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise LimitViolation(f"raster settings must be finite numbers, got {values}")
    if int(num_x) != num_x or int(num_y) != num_y or num_x < 1 or num_y < 1:
        raise LimitViolation(f"num_x and num_y must be whole numbers >= 1, got {num_x}, {num_y}")
    if num_x > MAX_LINE_POINTS:
        raise LimitViolation(
            f"num_x = {num_x}: a raster's line holds at most {MAX_LINE_POINTS} points"
        )
    if num_x * num_y > config.detector.max_pixels:
        raise LimitViolation(
            f"{num_x} x {num_y} pixels exceeds the detector's {config.detector.max_pixels}"
        )
    if not step_nm > 0:
        raise LimitViolation(f"step must be positive, got {step_nm} nm")
    check_dwell(dwell_ms)
    low, high = config.stage.fine_travel_um
    for axis, centre, count in (("x", center_x_um, num_x), ("y", center_y_um, num_y)):
        half = (count - 1) * step_nm / 2e3
        if centre - half < low or centre + half > high:
            raise LimitViolation(
                f"raster {axis} from {centre - half:.3f} to {centre + half:.3f} um is beyond "
                f"the fine stage travel [{low}, {high}] um"
            )


def check_line(
    config: BeamlineConfig,
    start_um: tuple[float, float],
    stop_um: tuple[float, float],
    num_points: int,
    dwell_ms: float,
) -> None:
    """A fly-scanned line (from ``start_um`` to ``stop_um``, (x, y) on the fine stage, um)
    the piezo controller and the counter can do: 1 to ``MAX_LINE_POINTS`` whole points,
    positive dwell (ms), both ends inside the fine stage's travel."""
    values = (*start_um, *stop_um, num_points, dwell_ms)
    if not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise LimitViolation(f"line settings must be finite numbers, got {values}")
    if int(num_points) != num_points or not 1 <= num_points <= MAX_LINE_POINTS:
        raise LimitViolation(f"a line holds 1 to {MAX_LINE_POINTS} whole points, got {num_points}")
    check_dwell(dwell_ms)
    for axis, index in (("fine_x", 0), ("fine_y", 1)):
        for end in (start_um[index], stop_um[index]):
            check_travel(axis, end, config.stage.fine_travel_um, "um")


def raster_line(
    center_x_um: float, center_y_um: float, num_x: int, num_y: int, step_nm: float, row: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Start and stop (x, y), um, of line ``row`` (0 at the smallest y) of a raster centred
    at (x, y) um with ``num_x`` x ``num_y`` pixels of ``step_nm``: the pixel centres it
    counts at run evenly from start to stop.

    >>> raster_line(1.0, 2.0, 3, 2, 100.0, 1)
    ((0.9, 2.05), (1.1, 2.05))
    """
    half_x = (num_x - 1) * step_nm / 2e3
    y = center_y_um + (row - (num_y - 1) / 2) * step_nm / 1e3
    return (center_x_um - half_x, y), (center_x_um + half_x, y)


def place_raster(
    config: BeamlineConfig,
    center_x_um: float,
    center_y_um: float,
    num_x: int,
    num_y: int,
    step_nm: float,
    dwell_ms: float,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """A raster centred anywhere the coarse and fine stages reach (um, px, nm, ms) that the
    line controller and the detector can do: (coarse position, fine centre), um
    (``stage_placement``); LimitViolation naming the limit otherwise. Plans and the
    control window check regions by this rule."""
    check_raster(config, 0.0, 0.0, num_x, num_y, step_nm, dwell_ms)
    return stage_placement(config, center_x_um, center_y_um, num_x, num_y, step_nm)


def stage_placement(
    config: BeamlineConfig,
    center_x_um: float,
    center_y_um: float,
    num_x: int,
    num_y: int,
    step_nm: float,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where a raster centred at (x, y) on the sample holder (um) is taken: the coarse
    stage's position and the raster's centre on the fine stage, um.

    The coarse stage stays at 0 while the raster fits the fine travel there; otherwise it
    goes to the raster's centre and the fine stage scans around 0. LimitViolation if the
    coarse travel cannot reach it or the raster is larger than the fine travel.
    """
    try:
        check_raster(config, center_x_um, center_y_um, num_x, num_y, step_nm, 1.0)
        return (0.0, 0.0), (center_x_um, center_y_um)
    except LimitViolation:
        check_travel("coarse_x", center_x_um, config.stage.coarse_travel_um, "um")
        check_travel("coarse_y", center_y_um, config.stage.coarse_travel_um, "um")
        check_raster(config, 0.0, 0.0, num_x, num_y, step_nm, 1.0)
        return (center_x_um, center_y_um), (0.0, 0.0)
