"""Potentiostat: OCV / galvanostatic / potentiostatic control with device-side cutoffs.

Sign convention: positive current lithiates the LiFePO4 working electrode. The instrument
enforces compliance and voltage cutoffs itself (a crossed cutoff switches it to OCV); it also
logs its own readings (``log_*`` arrays, newest last, ``log_count`` ever recorded) so a client
that was paused can collect every point afterwards.

Each step's own limits (``step_duration`` s, ``step_capacity`` C; 0 for none) are
programmed into the instrument, which ends the step by itself at the first limit reached.
``stop()`` (called by the RunEngine on pause and suspend) leaves the cell running;
``switch_off()`` is the explicit way to stop the current. The EPICS backend sends a
``heartbeat`` (its session's token) every ``HEARTBEAT_S`` from a thread of its own while the
client process lives; the IOC opens the circuit when it hears nothing for its ``watchdog``
time from the session that switched the cell on.
"""

import operator
import secrets
import threading

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, EpicsSignal, EpicsSignalRO, Signal
from ophyd.status import Status

from ..limits import ComplianceError, Mode, check_current, current_for_c_rate
from .sim_signals import WorldReadbacks, WorldSignal

__all__ = ["ComplianceError", "EpicsPotentiostat", "Mode", "Potentiostat", "SimPotentiostat"]

HEARTBEAT_S = 1.0
"""Wall seconds between the EPICS client's heartbeats."""


class Potentiostat(Device):
    """Interface shared by both backends.

    Components: mode, output, current_setpoint (A), voltage_setpoint (V), lower_cutoff (V),
    upper_cutoff (V), step_duration (s), step_capacity (C), heartbeat, voltage (V),
    current (A), charge (C), trip_reason, capacity (Ah), max_current (A), watchdog (s),
    log_time (s), log_voltage (V), log_current (A), log_charge (C), log_count.
    """

    def current_for_c_rate(self, c_rate: float) -> float:
        """Current (A) for a C-rate (1/h; positive = lithiation), checked against the
        instrument's own capacity and compliance."""
        return current_for_c_rate(c_rate, self.capacity.get(), self.max_current.get())

    def check_current(self, current_A: float) -> None:
        """Raise ComplianceError if the current is beyond the instrument's compliance."""
        check_current(current_A, self.max_current.get(), self.capacity.get())

    def read_log(self, since: int = 0) -> dict[str, np.ndarray]:
        """Logged readings with index >= ``since`` still retained by the instrument.

        Returns arrays ``index``, ``time``, ``voltage``, ``current``, ``charge``.

        The columns are read one after the other while the instrument may log on: a read
        is whole if the count did not change meanwhile, or if the columns are of one length
        that is still the whole count (nothing has yet been dropped from the front, so
        each column is a prefix of one record).
        """
        for _ in range(10):
            before = int(self.log_count.get())
            columns = {
                name: np.asarray(getattr(self, f"log_{name}").get(), dtype=float)
                for name in ("time", "voltage", "current", "charge")
            }
            lengths = {len(column) for column in columns.values()}
            count = int(self.log_count.get())
            if len(lengths) == 1 and count in (before, *lengths):
                break
        else:
            raise RuntimeError(f"{self.name}: the log kept changing while it was read")
        index = np.arange(count - lengths.pop(), count)
        keep = index >= since
        return {"index": index[keep]} | {k: v[keep] for k, v in columns.items()}

    def switch_off(self) -> Status:
        """Open the circuit: mode OCV and output off. Returns one status for both puts."""
        return self.mode.set(Mode.OCV.value) & self.output.set(0)

    def stop(self, *, success: bool = False) -> None:
        """Do nothing: a RunEngine pause or suspend must not switch the cell off."""


def _pstat(attribute: str):
    return lambda world: getattr(world.potentiostat, attribute)


def _log_column(column: int):
    return lambda world: world.potentiostat.log_array()[:, column]


class SimPotentiostat(WorldReadbacks, Potentiostat):
    """Potentiostat of the simulated beamline; pass ``world=``."""

    mode = Cpt(
        WorldSignal,
        getter=lambda w: w.potentiostat.mode.value,
        setter=lambda w, v: w.potentiostat.set_mode(v),
        kind="config",
    )
    output = Cpt(
        WorldSignal,
        getter=lambda w: int(w.potentiostat.output_on),
        setter=lambda w, v: w.potentiostat.set_output(bool(v)),
        kind="config",
    )
    current_setpoint = Cpt(
        WorldSignal,
        getter=_pstat("current_setpoint_A"),
        setter=lambda w, v: w.potentiostat.set_current(v),
        kind="config",
    )
    voltage_setpoint = Cpt(
        WorldSignal,
        getter=_pstat("voltage_setpoint_V"),
        setter=lambda w, v: w.potentiostat.set_voltage(v),
        kind="config",
    )
    lower_cutoff = Cpt(
        WorldSignal,
        getter=_pstat("lower_cutoff_V"),
        setter=lambda w, v: w.potentiostat.set_lower_cutoff(v),
        kind="config",
    )
    upper_cutoff = Cpt(
        WorldSignal,
        getter=_pstat("upper_cutoff_V"),
        setter=lambda w, v: w.potentiostat.set_upper_cutoff(v),
        kind="config",
    )
    step_duration = Cpt(
        WorldSignal,
        getter=_pstat("step_duration_s"),
        setter=lambda w, v: w.potentiostat.set_step_duration(v),
        kind="config",
    )
    step_capacity = Cpt(
        WorldSignal,
        getter=_pstat("step_capacity_C"),
        setter=lambda w, v: w.potentiostat.set_step_capacity(v),
        kind="config",
    )
    heartbeat = Cpt(Signal, value=0, kind="omitted")  # in-process: the client cannot vanish
    voltage = Cpt(WorldSignal, getter=_pstat("voltage_V"), kind="hinted")
    current = Cpt(WorldSignal, getter=_pstat("current_A"), kind="hinted")
    charge = Cpt(WorldSignal, getter=_pstat("charge_C"))
    trip_reason = Cpt(WorldSignal, getter=_pstat("trip_reason"))
    capacity = Cpt(
        WorldSignal, getter=operator.attrgetter("config.potentiostat.capacity_Ah"), kind="config"
    )
    max_current = Cpt(
        WorldSignal, getter=operator.attrgetter("config.potentiostat.max_current_A"), kind="config"
    )
    watchdog = Cpt(
        WorldSignal, getter=operator.attrgetter("config.potentiostat.watchdog_s"), kind="config"
    )
    log_time = Cpt(WorldSignal, getter=_log_column(0), kind="omitted")
    log_voltage = Cpt(WorldSignal, getter=_log_column(1), kind="omitted")
    log_current = Cpt(WorldSignal, getter=_log_column(2), kind="omitted")
    log_charge = Cpt(WorldSignal, getter=_log_column(3), kind="omitted")
    log_count = Cpt(WorldSignal, getter=_pstat("log_count"), kind="omitted")

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, **kwargs)
        self._watch_world()


class _OwnedOutput(EpicsSignal):
    """The output switch: switching on names this session (its heartbeat token) as the
    cell's owner first, so that only its heartbeats keep the step running."""

    def put(self, value, *args, **kwargs):
        if value:  # set() puts through here too
            device = self.parent
            device.owner.put(device.session_token, wait=True, timeout=5 * HEARTBEAT_S)
        return super().put(value, *args, **kwargs)


class EpicsPotentiostat(Potentiostat):
    """Potentiostat over Channel Access, PVs ``{prefix}Mode``, ``{prefix}CurrentSP``, ...

    Each instance has a ``session_token`` (random): its heartbeats carry it, and switching
    the output on writes it to ``{prefix}Owner``; the IOC's watchdog then listens to that
    session's heartbeats only, so a second session left connected cannot keep a step
    running whose client died."""

    mode = Cpt(EpicsSignal, "Mode", string=True, kind="config")
    output = Cpt(_OwnedOutput, "Output", kind="config")
    owner = Cpt(EpicsSignal, "Owner", kind="omitted")
    current_setpoint = Cpt(EpicsSignal, "CurrentSP", limits=True, kind="config")
    voltage_setpoint = Cpt(EpicsSignal, "VoltageSP", limits=True, kind="config")
    lower_cutoff = Cpt(EpicsSignal, "LowerCutoff", limits=True, kind="config")
    upper_cutoff = Cpt(EpicsSignal, "UpperCutoff", limits=True, kind="config")
    step_duration = Cpt(EpicsSignal, "StepDuration", kind="config")
    step_capacity = Cpt(EpicsSignal, "StepCapacity", kind="config")
    heartbeat = Cpt(EpicsSignal, "Heartbeat", kind="omitted")
    voltage = Cpt(EpicsSignalRO, "Voltage", kind="hinted")
    current = Cpt(EpicsSignalRO, "Current", kind="hinted")
    charge = Cpt(EpicsSignalRO, "Charge")
    trip_reason = Cpt(EpicsSignalRO, "TripReason", string=True)
    capacity = Cpt(EpicsSignalRO, "Capacity", kind="config")
    max_current = Cpt(EpicsSignalRO, "MaxCurrent", kind="config")
    watchdog = Cpt(EpicsSignalRO, "Watchdog", kind="config")
    log_time = Cpt(EpicsSignalRO, "LogTime", kind="omitted")
    log_voltage = Cpt(EpicsSignalRO, "LogVoltage", kind="omitted")
    log_current = Cpt(EpicsSignalRO, "LogCurrent", kind="omitted")
    log_charge = Cpt(EpicsSignalRO, "LogCharge", kind="omitted")
    log_count = Cpt(EpicsSignalRO, "LogCount", kind="omitted")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session_token = secrets.randbelow(2**31 - 1) + 1
        self._ended = threading.Event()
        beat = threading.Thread(target=self._keep_alive, name=f"{self.name}-heartbeat")
        beat.daemon = True
        beat.start()

    def _keep_alive(self) -> None:
        """Tell the IOC's watchdog this client lives, until the device is destroyed."""
        while not self._ended.wait(HEARTBEAT_S):
            try:
                self.heartbeat.put(
                    self.session_token, connection_timeout=HEARTBEAT_S, use_complete=False
                )
            except Exception:  # not connected (yet, or any more): the watchdog decides
                continue

    def destroy(self) -> None:
        self._ended.set()
        super().destroy()
