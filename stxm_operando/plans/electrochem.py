"""Electrochemistry steps and plans: galvanostatic, rest and potentiostatic hold.

The potentiostat runs each step itself: the plan downloads the step (mode, setpoint, voltage
cutoffs, duration, charge) and the instrument ends it at the first limit reached, even if
the plan is paused, halted or its process dies. The plan holds while time passes, records
the log and the reason the step ended.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import MsgGenerator

from ..devices import Beamline, ComplianceError
from .estimates import protocol_s
from .metadata import standard_md
from .records import ELECTROCHEMISTRY_STREAM, ElectrochemistryRecorder
from .validation import (
    PlanArgumentError,
    check_period,
    check_positive,
    eager_plan,
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

    def describe(self) -> dict:
        """Searchable metadata for the step: its fields, current (A), direction, label."""
        return step_as_dict(self.step) | {
            "current_A": self.current_A,
            "direction": self.direction,
            "label": self.label,
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


def arm_step(beamline: Beamline, step: Step) -> ArmedStep:
    """Validate a step against the potentiostat (compliance, window) before anything flows."""
    step = as_step(step)
    pstat = beamline.potentiostat
    low, high = beamline.config.potentiostat.voltage_limits_V
    if isinstance(step, Galvanostatic):
        require(
            (step.c_rate is None) != (step.current_A is None),
            "a galvanostatic step needs exactly one of c_rate and current_A",
        )
        given = step.c_rate if step.c_rate is not None else step.current_A
        require(is_number(given), f"the step's current must be a finite number, got {given!r}")
        try:
            current = (
                pstat.current_for_c_rate(step.c_rate)
                if step.c_rate is not None
                else (pstat.check_current(step.current_A) or step.current_A)
            )
        except (ComplianceError, TypeError) as err:
            raise PlanArgumentError(str(err)) from None
        require(current != 0, "a galvanostatic step needs a non-zero current (use Rest)")
        require(
            any(v is not None for v in (step.until_V, step.until_capacity, step.duration_s)),
            "a galvanostatic step needs until_V, until_capacity or duration_s to end",
        )
        if step.until_V is not None:
            require(
                is_number(step.until_V) and low <= step.until_V <= high,
                f"until_V {step.until_V} V is outside the potentiostat window {low}-{high} V",
            )
        if step.until_capacity is not None:
            check_positive(step.until_capacity, "until_capacity", "capacity fractions")
        if step.duration_s is not None:
            check_positive(step.duration_s, "duration_s", "s")
        rate = current / beamline.config.potentiostat.capacity_Ah
        direction = "lithiation" if current > 0 else "delithiation"
        return ArmedStep(step, float(current), f"{rate:+.3g}C {direction}", direction)
    if isinstance(step, Rest):
        check_positive(step.duration_s, "rest duration_s", "s")
        return ArmedStep(step, 0.0, f"rest {step.duration_s:g} s", "rest")
    if isinstance(step, HoldPotential):
        require(
            is_number(step.voltage_V) and low <= step.voltage_V <= high,
            f"hold voltage {step.voltage_V} V is outside the window {low}-{high} V",
        )
        require(
            step.until_current_A is not None or step.duration_s is not None,
            "a potential hold needs until_current_A or duration_s to end",
        )
        if step.until_current_A is not None:
            check_positive(step.until_current_A, "until_current_A", "A")
        if step.duration_s is not None:
            check_positive(step.duration_s, "duration_s", "s")
        return ArmedStep(step, 0.0, f"hold {step.voltage_V:.3f} V", "hold")
    raise PlanArgumentError(f"unknown protocol step {step!r}")


def step_limits(beamline: Beamline, armed: ArmedStep) -> tuple[float, float]:
    """The step's own (duration s, charge C) limits for the instrument; 0 means none."""
    step = armed.step
    duration = getattr(step, "duration_s", None) or 0.0
    until_capacity = getattr(step, "until_capacity", None) or 0.0
    return float(duration), until_capacity * beamline.config.potentiostat.capacity_C


def _start(beamline: Beamline, armed: ArmedStep):
    """Configure and switch on the potentiostat for a step (plan stub)."""
    pstat, step = beamline.potentiostat, armed.step
    low, high = beamline.config.potentiostat.voltage_limits_V
    if isinstance(step, Rest):
        yield from bps.mv(pstat.output, 0, pstat.mode, "OCV")
        return
    if isinstance(step, Galvanostatic):
        if step.until_V is not None:  # a cutoff already crossed would end the step at once
            now = yield from bps.rd(pstat.voltage)
            ahead = step.until_V < now if armed.current_A > 0 else step.until_V > now
            require(
                ahead,
                f"until_V {step.until_V} V is not ahead of the cell's {now:.3f} V for "
                f"{armed.direction}: the step would end at once",
            )
        lower = step.until_V if step.until_V is not None and armed.current_A > 0 else low
        upper = step.until_V if step.until_V is not None and armed.current_A < 0 else high
        # widen the cutoffs first, so no intermediate pair is ever inverted (lower > upper)
        yield from bps.mv(pstat.lower_cutoff, low, pstat.upper_cutoff, high)
        yield from bps.mv(
            pstat.lower_cutoff,
            lower,
            pstat.upper_cutoff,
            upper,
            pstat.current_setpoint,
            armed.current_A,
        )
        yield from bps.mv(pstat.mode, "GALVANOSTATIC")
    else:
        yield from bps.mv(
            pstat.lower_cutoff,
            low,
            pstat.upper_cutoff,
            high,
            pstat.voltage_setpoint,
            step.voltage_V,
        )
        yield from bps.mv(pstat.mode, "POTENTIOSTATIC")
    duration, capacity = step_limits(beamline, armed)
    yield from bps.mv(pstat.step_duration, duration, pstat.step_capacity, capacity)
    yield from bps.mv(pstat.output, 1)


def switch_off(beamline: Beamline):
    """Open the circuit: OCV, output off (plan stub)."""
    yield from bps.mv(beamline.potentiostat.mode, "OCV", beamline.potentiostat.output, 0)


HALT_REASON = "halted: the cell was switched to OCV"
HALT_SWITCH_OFF_S = 10.0
"""Longest wait for the potentiostat to confirm the switch-off at a halt, s."""


def switch_off_on_halt(run_engine, beamline: Beamline) -> None:
    """Open the circuit the moment ``run_engine`` starts halting.

    ``RE.halt()`` ("emergency stop" at a pause) skips every plan's cleanup, so no plan can
    switch the cell off; this RunEngine state hook does, and the halted run's stop document
    gives that as its reason (the reason ``RE.abort(reason)`` would set). Any state hook
    already set keeps being called.
    """
    previous = run_engine.state_hook

    def hook(new_state, old_state) -> None:
        if new_state == "halting":
            try:  # wait: the circuit is open before the RunEngine goes on halting
                beamline.potentiostat.switch_off().wait(timeout=HALT_SWITCH_OFF_S)
            except Exception:  # the instrument's own limits and watchdog still apply
                logging.getLogger(__name__).exception("switching the cell off at halt failed")
            run_engine._reason = HALT_REASON  # what RE.abort(reason) sets; halt has none
        if previous is not None:
            previous(new_state, old_state)

    run_engine.state_hook = hook


def run_step(
    beamline: Beamline,
    armed: ArmedStep,
    recorder: ElectrochemistryRecorder,
    every_s: float,
    on_tick: Callable[[], Iterator] | None = None,
):
    """Run one armed step (plan stub): arm the potentiostat, then until the step ends, call
    ``on_tick`` (e.g. imaging), hold for the rest of ``every_s`` and record the log. Returns
    why the step ended.

    The holds are moves of the beamline clock, so the RunEngine's progress bar
    (``RE.waiting_hook = ProgressBarManager()``) shows them.
    """
    pstat, clock, step = beamline.potentiostat, beamline.clock, armed.step
    capacity_C = beamline.config.potentiostat.capacity_C
    yield from _start(beamline, armed)
    yield from recorder.record("start", armed.label)
    start_time = yield from bps.rd(clock.time)
    start_charge = yield from bps.rd(pstat.charge)
    duration = getattr(step, "duration_s", None)
    until_capacity = getattr(step, "until_capacity", None)
    reason = ""
    while not reason:
        tick_start = yield from bps.rd(clock.time)
        if on_tick is not None:
            yield from on_tick()
        now = yield from bps.rd(clock.time)
        hold = max(every_s - (now - tick_start), 0.0)
        if duration is not None:
            hold = min(hold, duration - (now - start_time))
        if until_capacity is not None:
            charge = yield from bps.rd(pstat.charge)
            remaining = until_capacity * capacity_C - abs(charge - start_charge)
            hold = min(hold, remaining / abs(armed.current_A))
        if hold > 0:
            yield from bps.mv(clock, hold)
        yield from recorder.collect()
        reason = yield from _step_over(beamline, armed, start_time, start_charge, capacity_C)
    yield from recorder.record("end", reason)
    return reason


def _step_over(beamline, armed, start_time, start_charge, capacity_C):
    """Why the step is over, or "" while it runs (plan stub)."""
    pstat, step = beamline.potentiostat, armed.step
    if armed.current_A != 0 or isinstance(step, HoldPotential):
        mode = yield from bps.rd(pstat.mode)
        output = yield from bps.rd(pstat.output)
        if mode == "OCV" and output == 0:
            trip_reason = yield from bps.rd(pstat.trip_reason)
            return trip_reason or "potentiostat switched off"
    elapsed = (yield from bps.rd(beamline.clock.time)) - start_time
    duration = getattr(step, "duration_s", None)
    if duration is not None and elapsed >= duration - 1e-9:
        return f"duration {duration:g} s"
    until_capacity = getattr(step, "until_capacity", None)
    if until_capacity is not None:
        passed = abs((yield from bps.rd(pstat.charge)) - start_charge) / capacity_C
        if passed >= until_capacity - 1e-6:
            return f"capacity {until_capacity:g}"
    until_current = getattr(step, "until_current_A", None)
    if until_current is not None and elapsed > 0:
        if abs((yield from bps.rd(pstat.current))) < until_current:
            return f"current below {until_current:g} A"
    return ""


@eager_plan
def electrochemistry(
    beamline: Beamline,
    steps: list[Step],
    record_every_s: float = 10.0,
    md: dict | None = None,
) -> MsgGenerator:
    """Run electrochemistry steps alone in one run, recording the potentiostat log.

    The cell is switched to OCV when the plan ends, fails or is aborted. The plan is not
    rewindable: after a pause it carries on where it stopped.
    """
    armed = [arm_step(beamline, s) for s in steps]
    require(len(armed) > 0, "at least one step is needed")
    check_period(record_every_s, "record_every_s")
    recorder = ElectrochemistryRecorder(beamline)
    metadata = standard_md(
        "electrochemistry",
        {
            "beamline": beamline.name,
            "steps": [step_as_dict(a.step) for a in armed],
            "record_every_s": record_every_s,
        },
        [beamline.potentiostat],
        [([recorder.log.name + "_time"], ELECTROCHEMISTRY_STREAM)],
        {
            "protocol": [a.describe() for a in armed],
            "capacity_Ah": beamline.config.potentiostat.capacity_Ah,
            "estimated_duration_s": protocol_s(armed, beamline.config.potentiostat.capacity_C),
        }
        | dict(md or {}),
    )

    def plan():
        yield from bps.open_run(md=metadata)
        yield from recorder.start()
        reasons = []
        for index, step in enumerate(armed):
            yield from recorder.set_step(index)
            reasons.append((yield from run_step(beamline, step, recorder, record_every_s)))
        yield from bps.close_run()
        return reasons

    # not rewindable: a resume must never replay a step's set-up and restart its current
    return bpp.rewindable_wrapper(bpp.finalize_wrapper(plan(), switch_off(beamline)), False)


@eager_plan
def galvanostatic(
    beamline: Beamline,
    c_rate: float | None = None,
    current_A: float | None = None,
    until_V: float | None = None,
    until_capacity: float | None = None,
    duration_s: float | None = None,
    **kwargs,
) -> MsgGenerator:
    """A single galvanostatic step as its own run (see ``Galvanostatic``)."""
    return electrochemistry(
        beamline, [Galvanostatic(c_rate, current_A, until_V, until_capacity, duration_s)], **kwargs
    )


@eager_plan
def rest(beamline: Beamline, duration_s: float, **kwargs) -> MsgGenerator:
    """Open circuit for ``duration_s`` as its own run."""
    return electrochemistry(beamline, [Rest(duration_s)], **kwargs)


@eager_plan
def hold_potential(
    beamline: Beamline,
    voltage_V: float,
    until_current_A: float | None = None,
    duration_s: float | None = None,
    **kwargs,
) -> MsgGenerator:
    """A potentiostatic hold as its own run (see ``HoldPotential``)."""
    return electrochemistry(
        beamline, [HoldPotential(voltage_V, until_current_A, duration_s)], **kwargs
    )


__all__ = [
    "ArmedStep",
    "Galvanostatic",
    "HoldPotential",
    "Rest",
    "Step",
    "arm_step",
    "electrochemistry",
    "galvanostatic",
    "hold_potential",
    "rest",
    "run_step",
    "step_as_dict",
    "step_limits",
    "switch_off",
    "switch_off_on_halt",
]
