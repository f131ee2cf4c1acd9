"""The simulated potentiostat: control modes, compliance, cutoffs, charge and its own log."""

from collections import deque

import numpy as np

from ..config import PotentiostatConfig
from ..limits import ComplianceError, Mode, check_current, check_voltage
from ..physics.electrode import Electrode


class PotentiostatModel:
    """Runs the electrode under the instrument's control, like the firmware of a potentiostat.

    Cutoffs and compliance are enforced here, not by the caller: crossing a voltage cutoff in
    galvanostatic mode, or the current compliance in potentiostatic mode, switches the cell to
    OCV with the output off and records why in ``trip_reason``. So are the programmed step's
    own limits (``set_step_limits``: duration and charge), as a real potentiostat runs a
    technique: the step ends by itself at the first limit reached, whether or not the client
    is still there, paused or halted. Readings are logged every ``log_interval_s`` of
    simulated time, so none is lost while a client is away.
    """

    def __init__(self, electrode: Electrode, config: PotentiostatConfig) -> None:
        self.electrode, self.config = electrode, config
        self.mode = Mode.OCV
        self.output_on = False
        self.current_setpoint_A = 0.0
        self.voltage_setpoint_V = electrode.voltage()
        self.lower_cutoff_V, self.upper_cutoff_V = config.voltage_limits_V
        self.time_s = 0.0
        self.current_A = 0.0
        self.voltage_V = electrode.voltage()
        self.charge_C = 0.0
        self.trip_reason = ""
        self.log: deque[tuple[float, float, float, float]] = deque(maxlen=config.log_length)
        self.log_count = 0
        self.step_duration_s = self.step_capacity_C = 0.0  # 0: no limit
        self._step_start = (0.0, 0.0)  # (time s, charge C) when the step began
        self._pending_s = 0.0
        self._next_log_s = 0.0
        self.step_listeners: list = []
        """Called after each model step (an instrument front-end samples and decides here)."""
        self._record()

    # --- setpoints, validated before anything flows -------------------------------------
    def check_current(self, current_A: float) -> None:
        """Raise ComplianceError if |current| exceeds the compliance."""
        check_current(current_A, self.config.max_current_A, self.config.capacity_Ah)

    def check_voltage(self, voltage_V: float) -> None:
        """Raise ComplianceError if a voltage is outside the potentiostat's window."""
        check_voltage(voltage_V, self.config.voltage_limits_V)

    def set_current(self, current_A: float) -> None:
        self.check_current(current_A)
        self.current_setpoint_A = float(current_A)

    def set_voltage(self, voltage_V: float) -> None:
        self.check_voltage(voltage_V)
        self.voltage_setpoint_V = float(voltage_V)

    def set_cutoffs(self, lower_V: float, upper_V: float) -> None:
        self.check_voltage(lower_V)
        self.check_voltage(upper_V)
        if not lower_V < upper_V:
            raise ComplianceError(f"lower cutoff {lower_V} V must be below upper {upper_V} V")
        self.lower_cutoff_V, self.upper_cutoff_V = float(lower_V), float(upper_V)

    def set_lower_cutoff(self, voltage_V: float) -> None:
        self.set_cutoffs(voltage_V, self.upper_cutoff_V)

    def set_upper_cutoff(self, voltage_V: float) -> None:
        self.set_cutoffs(self.lower_cutoff_V, voltage_V)

    def set_step_limits(self, duration_s: float, capacity_C: float) -> None:
        """Program a new step's own limits, s and C (0: none); the step starts now."""
        for value, name in ((duration_s, "duration"), (capacity_C, "capacity")):
            if not (np.isfinite(value) and value >= 0):
                raise ComplianceError(f"step {name} limit must be finite and >= 0, got {value}")
        self.step_duration_s, self.step_capacity_C = float(duration_s), float(capacity_C)
        self._step_start = (self.time_s, self.charge_C)

    def set_step_duration(self, duration_s: float) -> None:
        """A new step's duration limit, s (0: none), keeping its charge limit."""
        self.set_step_limits(duration_s, self.step_capacity_C)

    def set_step_capacity(self, capacity_C: float) -> None:
        """A new step's charge limit, C (0: none), keeping its duration limit."""
        self.set_step_limits(self.step_duration_s, capacity_C)

    def set_mode(self, mode: str) -> None:
        self.mode = Mode(mode)

    def set_output(self, on: bool) -> None:
        if on:
            self.trip_reason = ""
            if not self.output_on:
                self._step_start = (self.time_s, self.charge_C)
        self.output_on = bool(on)

    def trip(self, reason: str) -> None:
        """Open the circuit now (OCV, output off) and record why."""
        self.trip_reason = f"{reason} at t = {self.time_s:.1f} s"
        self.mode, self.output_on = Mode.OCV, False
        self._record()

    # --- time ----------------------------------------------------------------------------
    def advance(self, duration_s: float) -> None:
        """Let ``duration_s`` of simulated time pass (in whole model steps)."""
        self._pending_s += duration_s
        while True:
            dt = self.electrode.step_s(self._step_current_estimate())
            if self._pending_s < dt:
                return
            self._pending_s -= dt
            self._step(dt)

    def _drives(self) -> bool:
        return self.output_on and self.mode is not Mode.OCV

    def _step_current_estimate(self) -> float:
        if self._drives() and self.mode is Mode.GALVANOSTATIC:
            return self.current_setpoint_A
        return self.current_A

    def _step(self, dt: float) -> None:
        if self._drives() and self.mode is Mode.POTENTIOSTATIC:
            reading = self.electrode.step(dt, voltage_V=self.voltage_setpoint_V)
        else:
            current = self.current_setpoint_A if self._drives() else 0.0
            reading = self.electrode.step(dt, current_A=current)
        self.time_s += dt
        self.current_A, self.voltage_V = reading.current_A, reading.voltage_V
        self.charge_C += reading.current_A * dt
        self._enforce_limits()
        if self.time_s >= self._next_log_s:
            self._record()
        for listener in self.step_listeners:
            listener()

    def _enforce_limits(self) -> None:
        if not self._drives():
            return
        reason = ""
        if self.mode is Mode.GALVANOSTATIC and self.voltage_V <= self.lower_cutoff_V:
            reason = f"lower cutoff {self.lower_cutoff_V:.3f} V crossed"
        elif self.mode is Mode.GALVANOSTATIC and self.voltage_V >= self.upper_cutoff_V:
            reason = f"upper cutoff {self.upper_cutoff_V:.3f} V crossed"
        elif abs(self.current_A) > self.config.max_current_A:
            reason = f"current compliance {self.config.max_current_A:.3g} A crossed"
        elif self.step_duration_s and self.time_s - self._step_start[0] >= self.step_duration_s:
            reason = f"duration {self.step_duration_s:g} s reached"
        elif (
            self.step_capacity_C
            and abs(self.charge_C - self._step_start[1]) >= self.step_capacity_C
        ):
            reason = f"capacity {self.step_capacity_C:.4g} C reached"
        if reason:
            self.trip(reason)

    def _record(self) -> None:
        self.log.append((self.time_s, self.voltage_V, self.current_A, self.charge_C))
        self.log_count += 1
        self._next_log_s = self.time_s + self.config.log_interval_s

    def log_array(self) -> np.ndarray:
        """The retained log as an (n, 4) array of time (s), voltage (V), current (A), charge (C)."""
        return np.array(self.log, dtype=float).reshape(-1, 4)
