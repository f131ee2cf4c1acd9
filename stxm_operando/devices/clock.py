"""The beamline clock: ``clock.set(duration_s)`` is a hold that finishes after that much
beamline time. On the simulated beamline it advances simulated time at once (no wall-clock
sleep); over EPICS it waits for the IOC's time PV to advance."""

import threading

from ophyd import Component as Cpt
from ophyd import Device, EpicsSignalRO
from ophyd.status import DeviceStatus

from .sim_signals import WorldReadbacks, WorldSignal, world_of

HOLD_MARGIN_S = 30.0
"""An EPICS hold fails if the clock has not advanced within twice its duration plus this, s."""


class HoldStatus(DeviceStatus):
    """The status of a hold of ``duration_s`` from beamline time ``start_s``; it reports
    its progress (s) to watchers such as the RunEngine's progress bar."""

    def __init__(self, clock: "Clock", start_s: float, duration_s: float, **kwargs) -> None:
        super().__init__(clock, **kwargs)
        self.start_s, self.duration_s, self.now_s = start_s, duration_s, start_s

    def watch(self, func) -> None:
        self._watchers.append(func)
        self._report(func)

    def advanced(self, now_s: float) -> None:
        """The clock reads ``now_s``: tell the watchers."""
        self.now_s = now_s
        for func in list(self._watchers):
            self._report(func)

    def _report(self, func) -> None:
        elapsed = min(max(self.now_s - self.start_s, 0.0), self.duration_s)
        func(
            name=self.device.name,
            current=elapsed,
            initial=0.0,
            target=self.duration_s,
            unit="s",
            fraction=1.0 - elapsed / self.duration_s if self.duration_s else 0.0,
        )


class Clock(Device):
    """Interface shared by both backends. Components: time (s).

    ``set(duration_s)`` returns a ``HoldStatus``, so a hold shows in bluesky's progress bar.
    """

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

    def set(self, duration_s: float) -> HoldStatus:
        self._check_duration(duration_s)
        world = world_of(self)
        status = HoldStatus(self, world.clock_s, float(duration_s))
        world.advance(float(duration_s))
        status.advanced(world.clock_s)
        status.set_finished()
        return status


class EpicsClock(Clock):
    """Clock served by an IOC as ``{prefix}Time`` (s)."""

    time = Cpt(EpicsSignalRO, "Time", auto_monitor=True, kind="hinted")

    def set(self, duration_s: float) -> HoldStatus:
        self._check_duration(duration_s)
        # real hardware runs at wall time; a simulating IOC may run faster, never slower
        start = self.time.get()
        status = HoldStatus(
            self, start, float(duration_s), timeout=HOLD_MARGIN_S + 2 * float(duration_s)
        )
        end = start + float(duration_s)
        lock = threading.Lock()

        def check(value, **kwargs):
            with lock:
                if status.done:
                    return
                status.advanced(value)
                if value >= end:
                    self.time.clear_sub(check)
                    status.set_finished()

        self.time.subscribe(check, run=True)
        return status
