"""Ophyd signals whose values live in the simulated world (``device.root.world``)."""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from ophyd import Signal
from ophyd.utils import ReadOnlyError

if TYPE_CHECKING:  # the EPICS devices beside these never import the simulator
    from ..sim import SimulatedBeamline


def world_of(obj) -> "SimulatedBeamline":
    """The simulated world that the root device of ``obj`` is attached to."""
    return obj.root.world


class WorldSignal(Signal):
    """A signal read from (and optionally written to) the simulated world.

    Parameters
    ----------
    getter : ``getter(world)`` returns the value.
    setter : ``setter(world, value)`` validates and applies a put; None makes it read-only.
    """

    def __init__(
        self,
        *,
        getter: Callable[["SimulatedBeamline"], Any],
        setter: Callable[["SimulatedBeamline", Any], None] | None = None,
        **kwargs,
    ) -> None:
        self._getter, self._setter = getter, setter
        super().__init__(**kwargs)
        self._last = None

    def get(self, **kwargs) -> Any:
        world = world_of(self)
        with world.lock:
            return self._getter(world)

    def put(self, value: Any, **kwargs) -> None:
        if self._setter is None:
            raise ReadOnlyError(f"{self.name} is read-only")
        world = world_of(self)
        with world.lock:
            self._setter(world, value)
        self.refresh()

    def refresh(self) -> None:
        """Tell subscribers if the world's value changed since the last refresh."""
        value = self.get()
        if self._last is None or not np.array_equal(value, self._last):
            self._last = value
            self._readback = value
            self._run_subs(sub_type=self.SUB_VALUE, value=value, timestamp=time.time())

    def describe(self) -> dict:
        description = super().describe()
        description[self.name]["source"] = f"SIM:{self.name}"
        return description

    @property
    def timestamp(self) -> float:
        return time.time()


class WorldReadbacks:
    """Mixin for sim devices: after each clock advance, refresh the WorldSignals someone
    subscribed to (a read always asks the world itself, so the others need nothing)."""

    def _watch_world(self) -> None:
        self._world_signals = [
            walk.item for walk in self.walk_signals() if isinstance(walk.item, WorldSignal)
        ]
        world_of(self).listeners.append(self._refresh_signals)

    def _refresh_signals(self) -> None:
        for signal in self._world_signals:
            if signal._callbacks[signal.SUB_VALUE]:
                signal.refresh()
