"""The potentiostat on a PalmSens MethodSCRIPT instrument (EmStat4, Nexus), over serial.

The same ophyd interface as the simulated and EPICS backends (``Potentiostat``). Switching
the output on turns the step programmed in the setpoints into one script
(``methodscript.scripts.step_script``) that the instrument runs on its own: its duration,
charge and cutoffs are checked in the script and ``on_finished:`` switches the cell off, so
the step ends safely whether or not this client is still there. Switching the output off
sends ``Z``. Each package becomes a reading and a log row; its device time (``eb``, from the
step's start) is mapped to the beamline clock at the instrument's acknowledgement, and both
are kept (``log_time`` on the beamline clock, ``log_device_time`` as the instrument said).
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from ophyd import Component as Cpt
from ophyd import Signal
from ophyd.utils import ReadOnlyError

from ..config import PotentiostatConfig
from ..limits import ComplianceError, Mode, check_current, check_voltage
from ..methodscript.client import MethodScriptClient
from ..methodscript.codec import MethodScriptError, PackageValue
from ..methodscript.scripts import StepProgram, step_script
from .potentiostat import Potentiostat

QUIET_S = 0.03
"""A read waits until the line has been quiet this long (s), so readings in flight count."""
SETTLE_MAX_S = 1.0
END_TIMEOUT_S = 10.0
"""How long switching off waits for the instrument to end its script after ``Z``, s."""
POTENTIAL_TYPES, CURRENT_TYPES = ("ab", "da"), ("ba", "db")
log = logging.getLogger(__name__)


class MethodScriptController:
    """Settings, readbacks and log of the instrument, and the script of the running step.

    Parameters
    ----------
    client : the connected instrument.
    config : compliance, window, log interval and current ranges.
    clock : the beamline clock, s (what the plans' ``clock`` device reads).
    """

    def __init__(
        self, client: MethodScriptClient, config: PotentiostatConfig, clock: Callable[[], float]
    ) -> None:
        self.client, self.config, self.clock = client, config, clock
        self.identity = client.identify()
        low, high = config.voltage_limits_V
        if max(abs(low), abs(high)) > self.identity.potential_range_V:
            raise MethodScriptError(
                f"the {self.identity.model}'s +-{self.identity.potential_range_V:g} V range cannot "
                f"hold the cell's {low}-{high} V window (an EmStat4 HR or a Nexus can)"
            )
        self.lock = threading.RLock()
        self.mode = Mode.OCV
        self.current_setpoint_A = 0.0
        self.voltage_setpoint_V = float("nan")  # none until set: a hold must be given one
        self.lower_cutoff_V, self.upper_cutoff_V = config.voltage_limits_V
        self.step_duration_s = self.step_capacity_C = 0.0
        self.output_on = False
        self.voltage_V = self.current_A = float("nan")  # until the first reading
        self.charge_C = 0.0
        self.trip_reason = ""
        self.overloads = 0
        self.log: deque[tuple[float, float, float, float, float]] = deque(maxlen=config.log_length)
        self.log_count = 0
        self._ended = threading.Event()
        self._ended.set()
        self._transition = threading.Lock()  # one script starts or stops at a time
        self._last_line_at = self._settled_at = 0.0
        self._step: tuple[float, float] = (0.0, 0.0)  # beamline time and charge at its start
        self._switched_off = self._monitoring = False
        self._run(self._program(Mode.OCV), monitoring=True)  # the cell's voltage, cell off

    # --- settings -----------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if Mode(mode) is Mode.OCV and self.output_on:
            self.set_output(False)
        self.mode = Mode(mode)

    def set_current(self, current_A: float) -> None:
        check_current(current_A, self.config.max_current_A, self.config.capacity_Ah)
        self.current_setpoint_A = float(current_A)

    def set_voltage(self, voltage_V: float) -> None:
        check_voltage(voltage_V, self.config.voltage_limits_V)
        self.voltage_setpoint_V = float(voltage_V)

    def set_cutoff(self, which: str, voltage_V: float) -> None:
        check_voltage(voltage_V, self.config.voltage_limits_V, f"{which} cutoff")
        setattr(self, f"{which}_cutoff_V", float(voltage_V))

    def set_limit(self, name: str, value: float) -> None:
        if not (np.isfinite(value) and value >= 0):
            raise ComplianceError(f"step {name} limit must be finite and >= 0, got {value}")
        setattr(self, name, float(value))

    def set_output(self, on: bool) -> None:
        """On: run the programmed step as a script. Off: ``Z`` (the script's ``on_finished:``
        opens the circuit), then an OCP loop so the cell's voltage is still read at rest."""
        program = self._program(self.mode if on else Mode.OCV)  # checked before anything
        with self._transition:
            self._stop_script(switched_off=not self._monitoring)
            self._run(program, monitoring=not on)

    def _program(self, mode: Mode) -> StepProgram:
        """The step the settings program; ComplianceError for a setpoint never set or out of
        bounds (a hold with no potential set would otherwise apply 0 V)."""
        if mode is Mode.GALVANOSTATIC:
            self.set_current(self.current_setpoint_A)
        elif mode is Mode.POTENTIOSTATIC:
            self.set_voltage(self.voltage_setpoint_V)
        return StepProgram(
            mode,
            current_A=self.current_setpoint_A,
            voltage_V=self.voltage_setpoint_V,
            lower_V=self.lower_cutoff_V,
            upper_V=self.upper_cutoff_V,
            duration_s=0.0 if mode is Mode.OCV else self.step_duration_s,
            capacity_C=0.0 if mode is Mode.OCV else self.step_capacity_C,
            interval_s=self.config.log_interval_s,
            current_range_A=self._current_range(),
            max_range_A=max(self.config.current_ranges_A),
        )

    def _stop_script(self, switched_off: bool) -> None:
        if self._ended.is_set():
            return
        self._switched_off = switched_off
        self.client.abort()
        if not self._ended.wait(END_TIMEOUT_S):
            raise MethodScriptError("the instrument's script did not end after Z", command="Z")

    def _run(self, program: StepProgram, monitoring: bool = False) -> None:
        if not monitoring:
            self.trip_reason = ""
        self._switched_off, self._monitoring = False, monitoring
        self._ended.clear()
        self._step = (self.clock(), self.charge_C)
        self._last_device_s = 0.0
        try:
            self.client.run(step_script(program), self._take, self._end)
        except MethodScriptError as err:
            self._ended.set()
            if err.code == 0x0006:
                raise MethodScriptError(
                    "a script is already running on the instrument (a step left by an earlier "
                    "session?): let it end, or abort it on the instrument",
                    command="e",
                    code=err.code,
                ) from err
            raise
        self.output_on = program.mode is not Mode.OCV

    def _current_range(self) -> float:
        """The smallest range holding the step's current (or compliance for a hold)."""
        needed = abs(self.current_setpoint_A) if self.mode is Mode.GALVANOSTATIC else 0.0
        needed = needed or self.config.max_current_A
        fitting = [r for r in sorted(self.config.current_ranges_A) if r >= needed]
        return fitting[0] if fitting else max(self.config.current_ranges_A)

    def settle(self) -> "MethodScriptController":
        """Let readings in flight on the line arrive before a state is read: wait until no
        line came for ``QUIET_S`` since this call (at most ``SETTLE_MAX_S``; at once if the
        last wait saw no line after it)."""
        start = time.monotonic()
        if self._settled_at >= self._last_line_at and start - self._settled_at < QUIET_S:
            return self
        while True:
            now = time.monotonic()
            if now - max(start, self._last_line_at) >= QUIET_S or now - start > SETTLE_MAX_S:
                break
            time.sleep(QUIET_S / 5)
        self._settled_at = time.monotonic()
        return self

    # --- what the instrument says (the client's reader thread) --------------------------
    def _take(self, values: list[PackageValue]) -> None:
        self._last_line_at = time.monotonic()
        by_type = {v.var_type: v for v in values}
        start_s, start_charge = self._step
        device_s = by_type["eb"].value if "eb" in by_type else float("nan")
        with self.lock:
            for t in POTENTIAL_TYPES:
                if t in by_type:
                    self.voltage_V = by_type[t].value
            for t in CURRENT_TYPES:
                if t in by_type:
                    self.current_A = by_type[t].value
                    self.overloads += "overload" in by_type[t].flags
            if not any(t in by_type for t in CURRENT_TYPES):
                self.current_A = 0.0  # an OCP reading: the cell is off
            if "ja" in by_type:  # integrated by the script (a potentiostatic charge limit)
                self.charge_C = start_charge + by_type["ja"].value
            elif self.output_on and np.isfinite(device_s):  # integrated here, I x dt
                self.charge_C += self.current_A * (device_s - self._last_device_s)
            self._last_device_s = device_s
            self.log.append(
                (start_s + device_s, self.voltage_V, self.current_A, self.charge_C, device_s)
            )
            self.log_count += 1

    def _end(self, error: str) -> None:
        self._last_line_at = time.monotonic()
        with self.lock:
            if error or not self._monitoring:
                self.trip_reason = error or self._why_ended()
            step_ended = not self._monitoring
            if step_ended:  # a step's end opens the circuit
                self.output_on, self.mode = False, Mode.OCV
        self._ended.set()
        if (step_ended or error) and not self._switched_off and not self.client.lost:
            threading.Thread(target=self._monitor_after_step, daemon=True).start()

    def _monitor_after_step(self) -> None:
        """The step ended by itself, or with an instrument error (which skips the script's
        ``on_finished:``): the OCP script switches the cell off and reads it at rest until the
        next step (a thread of its own: the reader thread, which called ``_end``, must take
        the acknowledgement)."""
        with self._transition:
            if not self._ended.is_set():
                return  # a new step began meanwhile
            try:
                self._run(self._program(Mode.OCV), monitoring=True)
            except MethodScriptError as err:
                log.warning("no readings at rest after the step: %s", err)

    def _why_ended(self) -> str:
        if self._switched_off:
            return "switched off"
        elapsed = self.log[-1][4] if self.log else 0.0
        where = f" at t = {self.log[-1][0]:.1f} s" if self.log else ""
        if self.mode is Mode.GALVANOSTATIC and self.voltage_V <= self.lower_cutoff_V:
            return f"lower cutoff {self.lower_cutoff_V:.3f} V crossed{where}"
        if self.mode is Mode.GALVANOSTATIC and self.voltage_V >= self.upper_cutoff_V:
            return f"upper cutoff {self.upper_cutoff_V:.3f} V crossed{where}"
        passed = abs(self.charge_C - self._step[1])
        if self.step_capacity_C and passed >= self.step_capacity_C * (1 - 1e-3):
            return f"capacity {self.step_capacity_C:.4g} C reached{where}"
        if self.step_duration_s and elapsed >= self.step_duration_s - 1e-6:
            return f"duration {self.step_duration_s:g} s reached{where}"
        return f"the instrument ended the step{where}"

    def log_array(self) -> np.ndarray:
        """Time on the beamline clock (s), voltage (V), current (A), charge (C), device time (s)."""
        with self.lock:
            return np.array(self.log, dtype=float).reshape(-1, 5)


class ControllerSignal(Signal):
    """A signal read from (and optionally written to) the device's ``controller``."""

    def __init__(self, *, getter: Callable, setter: Callable | None = None, **kwargs) -> None:
        self._getter, self._setter = getter, setter
        super().__init__(**kwargs)

    def get(self, **kwargs):
        return self._getter(self.root.controller)

    def put(self, value, **kwargs) -> None:
        if self._setter is None:
            raise ReadOnlyError(f"{self.name} is read-only")
        self._setter(self.root.controller, value)
        self._run_subs(sub_type=self.SUB_VALUE, value=self.get(), timestamp=self.timestamp)

    def describe(self) -> dict:
        description = super().describe()
        description[self.name]["source"] = f"MethodSCRIPT:{self.root.controller.client.url}"
        return description


def _attribute(name: str, setter: Callable | None = None, **kwargs) -> Cpt:
    """A controller attribute, read once the readings in flight have arrived."""
    return Cpt(
        ControllerSignal, getter=lambda c: getattr(c.settle(), name), setter=setter, **kwargs
    )


def _column(column: int) -> Cpt:
    return Cpt(ControllerSignal, getter=lambda c: c.log_array()[:, column], kind="omitted")


class MethodScriptPotentiostat(Potentiostat):
    """Potentiostat on a MethodSCRIPT instrument at ``port`` (a pyserial URL); connects and
    identifies at once (MethodScriptError before any current flows if it cannot)."""

    mode = Cpt(
        ControllerSignal,
        getter=lambda c: c.mode.value,
        setter=lambda c, v: c.set_mode(v),
        kind="config",
    )
    output = _attribute("output_on", lambda c, v: c.set_output(bool(v)), kind="config")
    current_setpoint = _attribute(
        "current_setpoint_A", lambda c, v: c.set_current(v), kind="config"
    )
    voltage_setpoint = _attribute(
        "voltage_setpoint_V", lambda c, v: c.set_voltage(v), kind="config"
    )
    lower_cutoff = _attribute(
        "lower_cutoff_V", lambda c, v: c.set_cutoff("lower", v), kind="config"
    )
    upper_cutoff = _attribute(
        "upper_cutoff_V", lambda c, v: c.set_cutoff("upper", v), kind="config"
    )
    step_duration = _attribute(
        "step_duration_s", lambda c, v: c.set_limit("step_duration_s", v), kind="config"
    )
    step_capacity = _attribute(
        "step_capacity_C", lambda c, v: c.set_limit("step_capacity_C", v), kind="config"
    )
    heartbeat = Cpt(Signal, value=0, kind="omitted")  # the instrument owns the step
    voltage = _attribute("voltage_V", kind="hinted")
    current = _attribute("current_A", kind="hinted")
    charge = _attribute("charge_C")
    trip_reason = _attribute("trip_reason")
    capacity = Cpt(ControllerSignal, getter=lambda c: c.config.capacity_Ah, kind="config")
    max_current = Cpt(ControllerSignal, getter=lambda c: c.config.max_current_A, kind="config")
    watchdog = Cpt(Signal, value=0.0, kind="config")  # none needed: the script ends the step
    instrument = Cpt(
        ControllerSignal,
        getter=lambda c: f"{c.identity.model} {c.identity.serial_number} fw {c.identity.firmware}",
        kind="config",
    )
    log_time = _column(0)
    log_voltage = _column(1)
    log_current = _column(2)
    log_charge = _column(3)
    log_device_time = _column(4)
    log_count = _attribute("log_count", kind="omitted")

    def __init__(
        self,
        port: str,
        *,
        config: PotentiostatConfig,
        clock: Callable[[], float],
        **kwargs,
    ) -> None:
        self.controller = MethodScriptController(MethodScriptClient(port), config, clock)
        super().__init__("", **kwargs)

    def destroy(self) -> None:
        self.controller.client.close()
        super().destroy()
