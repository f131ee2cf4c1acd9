"""Protocol steps: galvanostatic, rest and potentiostatic hold, as objects or as the dicts a
queue server sends, validated against the potentiostat's configuration (``arm_step``)
before anything flows."""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from ..devices import Beamline
from ..limits import ComplianceError, check_current, check_voltage, current_for_c_rate
from .estimates import step_duration_s
from .validation import (
    PlanArgumentError,
    check_duration,
    check_fraction,
    check_positive,
    is_number,
    require,
)


@dataclass(frozen=True)
class Galvanostatic:
    """Constant current, given as a C-rate (1/h) or in A; positive lithiates.

    Ends at the first of: ``until_V`` (a device cutoff: lower on lithiation, upper on
    delithiation), ``until_capacity`` (fraction of the electrode capacity passed) or
    ``duration_s``.
    """

    c_rate: float | None = None
    current_A: float | None = None
    until_V: float | None = None
    until_capacity: float | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class Rest:
    """Open circuit for ``duration_s``."""

    duration_s: float


@dataclass(frozen=True)
class HoldPotential:
    """Constant voltage (V) until |current| falls below ``until_current_A`` or
    ``duration_s`` passes."""

    voltage_V: float
    until_current_A: float | None = None
    duration_s: float | None = None


Step = Galvanostatic | Rest | HoldPotential


@dataclass(frozen=True)
class ArmedStep:
    """A validated step with its current resolved (A) and a printable label."""

    step: Step
    current_A: float
    label: str
    direction: str
    expected_s: float | None = None
    """How long the step should take at most, s (``estimates.step_duration_s``); None for a
    hold that only a falling current ends."""

    def describe(self) -> dict:
        """Searchable metadata for the step: its fields, current (A), direction, label and
        expected duration (s)."""
        return step_as_dict(self.step) | {
            "current_A": self.current_A,
            "direction": self.direction,
            "label": self.label,
            "expected_s": self.expected_s,
        }


STEP_KINDS = {"Galvanostatic": Galvanostatic, "Rest": Rest, "HoldPotential": HoldPotential}


def step_as_dict(step: Step) -> dict:
    """The step as the dict ``as_step`` takes (``kind`` and the fields that are set)."""
    return {"kind": type(step).__name__} | {k: v for k, v in asdict(step).items() if v is not None}


def as_step(value) -> Step:
    """A protocol step, or one from a dict (as a queue server sends it): ``kind`` names it
    (Galvanostatic, Rest, HoldPotential), or its fields do (``voltage_V``: a hold;
    ``c_rate`` or ``current_A``: galvanostatic; ``duration_s`` alone: a rest)."""
    if isinstance(value, Galvanostatic | Rest | HoldPotential):
        return value
    if not isinstance(value, dict):
        raise PlanArgumentError(f"a protocol step is a step object or a dict, got {value!r}")
    fields = dict(value)
    kind = fields.pop("kind", None)
    if kind is None:
        kind = (
            "HoldPotential"
            if "voltage_V" in fields
            else "Galvanostatic"
            if {"c_rate", "current_A"} & fields.keys()
            else "Rest"
        )
    try:
        return STEP_KINDS[kind](**fields)
    except (KeyError, TypeError):
        raise PlanArgumentError(
            f"cannot make a {kind} step of {value!r} (kinds: {', '.join(STEP_KINDS)})"
        ) from None


def arm_protocol(beamline: Beamline, steps) -> list[ArmedStep]:
    """Every step of a protocol (a list of steps, or of dicts as a queue server sends
    them) armed (``arm_step``); PlanArgumentError for anything else or no steps."""
    require(
        isinstance(steps, Sequence) and not isinstance(steps, str | bytes | Mapping),
        f"a protocol is a list of steps, got {steps!r}",
    )
    armed = [arm_step(beamline, step) for step in steps]
    require(len(armed) > 0, "the protocol has no steps")
    return armed


def arm_step(beamline: Beamline, step: Step) -> ArmedStep:
    """Validate a step against the potentiostat's configuration (compliance, window) before
    anything flows; reads no device (a plan may be built long before it runs)."""
    step = as_step(step)
    pconfig = beamline.config.potentiostat
    if isinstance(step, Galvanostatic):
        require(
            (step.c_rate is None) != (step.current_A is None),
            "a galvanostatic step needs exactly one of c_rate and current_A",
        )
        given = step.c_rate if step.c_rate is not None else step.current_A
        require(is_number(given), f"the step's current must be a finite number, got {given!r}")
        try:
            if step.c_rate is not None:
                current = current_for_c_rate(
                    step.c_rate, pconfig.capacity_Ah, pconfig.max_current_A
                )
            else:
                check_current(step.current_A, pconfig.max_current_A, pconfig.capacity_Ah)
                current = step.current_A
        except ComplianceError as err:
            raise PlanArgumentError(str(err)) from None
        require(current != 0, "a galvanostatic step needs a non-zero current (use Rest)")
        require(
            any(v is not None for v in (step.until_V, step.until_capacity, step.duration_s)),
            "a galvanostatic step needs until_V, until_capacity or duration_s to end",
        )
        if step.until_V is not None:
            _check_in_window(step.until_V, pconfig.voltage_limits_V, "until_V")
        if step.until_capacity is not None:  # a share of the electrode's whole capacity
            check_fraction(step.until_capacity, "until_capacity")
            require(step.until_capacity > 0, "until_capacity must be above 0")
        if step.duration_s is not None:
            check_duration(step.duration_s, "duration_s")
        rate = current / pconfig.capacity_Ah
        direction = "lithiation" if current > 0 else "delithiation"
        expected = step_duration_s(step, current, pconfig.capacity_C)
        return ArmedStep(step, float(current), f"{rate:+.3g}C {direction}", direction, expected)
    if isinstance(step, Rest):
        check_duration(step.duration_s, "rest duration_s")
        return ArmedStep(step, 0.0, f"rest {step.duration_s:g} s", "rest", step.duration_s)
    if isinstance(step, HoldPotential):
        _check_in_window(step.voltage_V, pconfig.voltage_limits_V, "hold voltage")
        require(
            step.until_current_A is not None or step.duration_s is not None,
            "a potential hold needs until_current_A or duration_s to end",
        )
        if step.until_current_A is not None:
            check_positive(step.until_current_A, "until_current_A", "A")
        if step.duration_s is not None:
            check_duration(step.duration_s, "duration_s")
        return ArmedStep(step, 0.0, f"hold {step.voltage_V:.3f} V", "hold", step.duration_s)
    raise PlanArgumentError(f"unknown protocol step {step!r}")


def _check_in_window(voltage_V, limits_V, what: str) -> None:
    try:
        check_voltage(voltage_V, limits_V, what)
    except ComplianceError as err:
        raise PlanArgumentError(str(err)) from None


def step_limits(beamline: Beamline, armed: ArmedStep) -> tuple[float, float]:
    """The step's own (duration s, charge C) limits for the instrument; 0 means none."""
    step = armed.step
    duration = getattr(step, "duration_s", None) or 0.0
    until_capacity = getattr(step, "until_capacity", None) or 0.0
    return float(duration), until_capacity * beamline.config.potentiostat.capacity_C
