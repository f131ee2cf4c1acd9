"""Electrochemistry steps and plans: galvanostatic, rest and potentiostatic hold.

The potentiostat runs each step itself: the plan downloads the step (mode, setpoint, voltage
cutoffs, duration, charge) and the instrument ends it at the first limit reached, even if
the plan is paused, halted or its process dies. The plan holds while time passes, records
the log and the reason the step ended.
"""

import logging
import math
from collections.abc import Callable, Iterator

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import MsgGenerator

from ..devices import Beamline
from ..streams import ELECTROCHEMISTRY_STREAM
from .estimates import protocol_s, step_duration_s
from .metadata import standard_md
from .records import ElectrochemistryRecorder
from .steps import (
    ArmedStep,
    Galvanostatic,
    HoldPotential,
    Rest,
    Step,
    arm_protocol,
    arm_step,
    step_as_dict,
    step_limits,
)
from .validation import check_md, check_period, eager_plan, require


def _start(beamline: Beamline, armed: ArmedStep):
    """Configure and switch on the potentiostat for a step (plan stub)."""
    pstat, step = beamline.potentiostat, armed.step
    low, high = beamline.config.potentiostat.voltage_limits_V
    if isinstance(step, Rest):
        yield from bps.mv(pstat.output, 0, pstat.mode, "OCV")
        return
    if isinstance(step, Galvanostatic):
        yield from check_cutoff_ahead(beamline, armed)
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


def check_cutoff_ahead(beamline: Beamline, armed: ArmedStep) -> MsgGenerator[None]:
    """A galvanostatic step's ``until_V`` must lie ahead of the cell's voltage now: a cutoff
    already crossed would end the step at once (plan stub; PlanArgumentError). Run before
    the plan's first run opens for its first step; a simulated plan (no RunEngine to read
    the cell) has nothing to compare with."""
    step = armed.step
    if not isinstance(step, Galvanostatic) or step.until_V is None:
        return
    now = yield from bps.rd(beamline.potentiostat.voltage, default_value=None)
    if now is None or not math.isfinite(now):  # simulated, or no reading yet
        return
    ahead = step.until_V < now if armed.current_A > 0 else step.until_V > now
    require(
        ahead,
        f"until_V {step.until_V} V is not ahead of the cell's {now:.3f} V for "
        f"{armed.direction}: the step would end at once",
    )


def switch_off(beamline: Beamline):
    """Open the circuit: OCV, output off (plan stub)."""
    yield from bps.mv(beamline.potentiostat.mode, "OCV", beamline.potentiostat.output, 0)


def switched_off_afterwards(plan, beamline: Beamline, collect=None):
    """``plan``, then the circuit opened (``switch_off``) however it ended (plan
    preprocessor). If it failed or was aborted, the readings the instrument logged up to
    the switch-off go into the run (``collect()``: a plan that collects them, e.g.
    ``ElectrochemistryRecorder.collect_after_switch_off``; those of a pause before an
    abort are kept), and the plan's own failure is what is raised: a
    switch-off or collection that fails as well is noted on it, so the stop document and
    the user see the cause, not the clean-up. A halt closes the plan, when no message may
    be yielded: the potentiostat is then told directly (``Potentiostat.switch_off``), so
    any RunEngine opens the circuit at a halt, with or without ``switch_off_on_halt``."""
    try:
        result = yield from plan
    except GeneratorExit:  # closed (RE.halt()): no message may be yielded now
        _switch_off_now(beamline, "at a halt")
        raise
    except BaseException as failure:
        cleanups = [("switching the cell off", switch_off(beamline))]
        if collect is not None:
            cleanups.append(("collecting the instrument's log", collect()))
        for what, cleanup in cleanups:
            try:
                yield from cleanup
            except Exception as err:
                failure.add_note(f"{what} afterwards failed too: {type(err).__name__}: {err}")
        raise
    yield from switch_off(beamline)
    return result


def _switch_off_now(beamline: Beamline, when: str) -> None:
    """Open the circuit outside the RunEngine and wait for it (``HALT_SWITCH_OFF_S`` at
    most); a failure is logged (the instrument's own limits and watchdog still apply)."""
    try:
        beamline.potentiostat.switch_off().wait(timeout=HALT_SWITCH_OFF_S)
    except Exception:
        logging.getLogger(__name__).exception("switching the cell off %s failed", when)


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
        if new_state == "halting":  # the circuit open before the RunEngine goes on halting
            _switch_off_now(beamline, "at a halt")
            run_engine._reason = HALT_REASON  # what RE.abort(reason) sets; halt has none
        if previous is not None:
            previous(new_state, old_state)

    run_engine.state_hook = hook


STEP_OVERRUN = 2.0
"""A step still running after this many times its longest estimated duration
(``estimates.step_duration_s``) is ended by the plan: its cutoff was never reached. A
simulated step (no RunEngine, no readings) lasts its estimate."""


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

    Each pass begins with a checkpoint, where a deferred pause (``RE.request_pause(defer=
    True)``, one Ctrl-C) takes effect. The holds are moves of the beamline clock, so the
    RunEngine's progress bar
    (``RE.waiting_hook = ProgressBarManager()``) shows them. Simulated without a RunEngine
    (``bluesky.simulators``), where no reading comes back, the clock advances by the holds
    and the charge by the current: the plan's messages are those of a nominal step.
    """
    pstat, clock, step = beamline.potentiostat, beamline.clock, armed.step
    capacity_C = beamline.config.potentiostat.capacity_C
    longest = step_duration_s(step, armed.current_A, capacity_C)
    nominal = {"time": 0.0}

    def elapsed_s():
        reading = yield from bps.rd(clock.time, default_value=None)
        if reading is None or start_time is None:
            return nominal["time"]
        return reading - start_time

    def charge_passed_C():
        reading = yield from bps.rd(pstat.charge, default_value=None)
        if reading is None:
            return abs(armed.current_A) * nominal["time"]
        return abs(reading - start_charge)

    yield from _start(beamline, armed)
    yield from recorder.record("start", armed.label)
    start_time = yield from bps.rd(clock.time, default_value=None)
    start_charge = yield from bps.rd(pstat.charge, default_value=0.0)
    if longest is None:
        overrun, overrun_reason = None, ""
    elif start_time is None:  # simulated: the nominal step
        overrun, overrun_reason = longest, f"its estimated {longest:.0f} s (simulated)"
    else:
        overrun = STEP_OVERRUN * longest + every_s
        overrun_reason = (
            f"still running at {STEP_OVERRUN:g}x its longest estimate ({longest:.0f} s)"
        )
    duration = getattr(step, "duration_s", None)
    until_capacity = getattr(step, "until_capacity", None)
    reason = ""
    while not reason:
        # a deferred pause (one Ctrl-C) takes effect here: before each imaging pass or
        # record, the cell carrying on with its step while the plan is paused
        yield from bps.checkpoint()
        tick_start = yield from elapsed_s()
        if on_tick is not None:
            yield from on_tick()
        now = yield from elapsed_s()
        hold = max(every_s - (now - tick_start), 0.0)
        if duration is not None:
            hold = min(hold, duration - now)
        if until_capacity is not None:
            remaining = until_capacity * capacity_C - (yield from charge_passed_C())
            hold = min(hold, remaining / abs(armed.current_A))
        if hold > 0:
            yield from bps.mv(clock, hold)
            nominal["time"] += hold
        yield from recorder.collect()
        now = yield from elapsed_s()
        charge = (yield from charge_passed_C()) if until_capacity is not None else 0.0
        reason = yield from _step_over(beamline, armed, now, charge)
        if not reason and overrun is not None and now >= overrun - 1e-9:
            reason = overrun_reason
    yield from recorder.record("end", reason)
    return reason


def _step_over(beamline, armed, elapsed_s: float, charge_passed_C: float):
    """Why the step is over after ``elapsed_s`` (s) and ``charge_passed_C`` (C; read only
    for a step that ends on its charge), or "" while it runs (plan stub)."""
    pstat, step = beamline.potentiostat, armed.step
    if armed.current_A != 0 or isinstance(step, HoldPotential):
        mode = yield from bps.rd(pstat.mode)
        output = yield from bps.rd(pstat.output)
        if mode == "OCV" and output == 0:
            trip_reason = yield from bps.rd(pstat.trip_reason)
            return trip_reason or "potentiostat switched off"
    duration = getattr(step, "duration_s", None)
    if duration is not None and elapsed_s >= duration - 1e-9:
        return f"duration {duration:g} s"
    until_capacity = getattr(step, "until_capacity", None)
    capacity_C = beamline.config.potentiostat.capacity_C
    if until_capacity is not None and charge_passed_C / capacity_C >= until_capacity - 1e-6:
        return f"capacity {until_capacity:g}"
    until_current = getattr(step, "until_current_A", None)
    if until_current is not None and elapsed_s > 0:
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
    armed = arm_protocol(beamline, steps)
    check_period(record_every_s, "record_every_s")
    recorder = ElectrochemistryRecorder(beamline)
    metadata = standard_md(
        "electrochemistry",
        beamline,
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
        | check_md(md),
    )

    def plan():
        yield from check_cutoff_ahead(beamline, armed[0])
        yield from bps.open_run(md=metadata)
        yield from recorder.start()
        reasons = []
        for index, step in enumerate(armed):
            yield from recorder.set_step(index)
            reasons.append((yield from run_step(beamline, step, recorder, record_every_s)))
        yield from bps.close_run()
        return reasons

    # not rewindable: a resume must never replay a step's set-up and restart its current
    return bpp.rewindable_wrapper(
        switched_off_afterwards(plan(), beamline, recorder.collect_after_switch_off), False
    )


@eager_plan
def galvanostatic(
    beamline: Beamline,
    c_rate: float | None = None,
    current_A: float | None = None,
    until_V: float | None = None,
    until_capacity: float | None = None,
    duration_s: float | None = None,
    *,
    record_every_s: float = 10.0,
    md: dict | None = None,
) -> MsgGenerator:
    """A single galvanostatic step as its own run (see ``Galvanostatic`` and
    ``electrochemistry``)."""
    step = Galvanostatic(c_rate, current_A, until_V, until_capacity, duration_s)
    return electrochemistry(beamline, [step], record_every_s, md)


@eager_plan
def rest(
    beamline: Beamline, duration_s: float, *, record_every_s: float = 10.0, md: dict | None = None
) -> MsgGenerator:
    """Open circuit for ``duration_s`` (s) as its own run (see ``electrochemistry``)."""
    return electrochemistry(beamline, [Rest(duration_s)], record_every_s, md)


@eager_plan
def hold_potential(
    beamline: Beamline,
    voltage_V: float,
    until_current_A: float | None = None,
    duration_s: float | None = None,
    *,
    record_every_s: float = 10.0,
    md: dict | None = None,
) -> MsgGenerator:
    """A potentiostatic hold as its own run (see ``HoldPotential`` and
    ``electrochemistry``)."""
    step = HoldPotential(voltage_V, until_current_A, duration_s)
    return electrochemistry(beamline, [step], record_every_s, md)


__all__ = [
    "ArmedStep",
    "Galvanostatic",
    "HoldPotential",
    "Rest",
    "Step",
    "arm_protocol",
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
