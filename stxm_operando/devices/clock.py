"""The beamline clock: ``clock.set(duration_s)`` is a hold that finishes after that much
beamline time. On the simulated beamline it advances simulated time at once (no wall-clock
sleep); over EPICS it waits for the IOC's time PV to advance."""

import threading

from ophyd import Component as Cpt
from ophyd import Device, EpicsSignalRO
from ophyd.status import Status

from .sim_signals import WorldReadbacks, WorldSignal, world_of

HOLD_MARGIN_S = 30.0
"""An EPICS hold fails if the clock has not advanced within twice its duration plus this, s."""


class Clock(Device):
    """Interface shared by both backends. Components: time (s)."""

    def _check_duration(self, duration_s: float) -> None:
        if not duration_s >= 0:
            raise ValueError(f"a hold must last zero or more seconds, got {duration_s}")


class SimClock(WorldReadbacks, Clock):
    """Clock of the simulated beamline; pass ``world=``."""

    time = Cpt(WorldSignal, getter=lambda w: w.clock_s, kind="hinted")

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, **kwargs)
        self._watch_world()

    def set(self, duration_s: float) -> Status:
        self._check_duration(duration_s)
        world_of(self).advance(float(duration_s))
        status = Status(obj=self)
        status.set_finished()
        return status


class EpicsClock(Clock):
    """Clock served by an IOC as ``{prefix}Time`` (s)."""

    time = Cpt(EpicsSignalRO, "Time", auto_monitor=True, kind="hinted")

    def set(self, duration_s: float) -> Status:
        self._check_duration(duration_s)
        # real hardware runs at wall time; a simulating IOC may run faster, never slower
        status = Status(obj=self, timeout=HOLD_MARGIN_S + 2 * float(duration_s))
        end = self.time.get() + float(duration_s)
        lock = threading.Lock()

        def check(value, **kwargs):
            with lock:
                if value >= end and not status.done:
                    self.time.clear_sub(check)
                    status.set_finished()

        self.time.subscribe(check, run=True)
        return status
