"""Motor axes: the simulated axis and the monochromator's backlash handling."""

import time

from ophyd import EpicsMotor
from ophyd.positioner import SoftPositioner
from ophyd.status import Status
from ophyd.status import wait as status_wait

from ..limits import check_travel
from .limits import as_device_limit
from .sim_signals import world_of


class SimAxis(SoftPositioner):
    """An axis of the simulated world; a move takes simulated travel and settle time.

    Parameters
    ----------
    axis : world axis name (see ``stxm_operando.sim.beamline.AXES``).
    settle_s : simulated settle time added to every move, s.
    """

    def __init__(self, *, axis: str, settle_s: float = 0.0, parent=None, **kwargs) -> None:
        self.axis, self.settle_s = axis, settle_s
        world = parent.root.world
        super().__init__(
            parent=parent,
            limits=world.limits(axis),
            egu="eV" if axis == "energy" else "um",
            init_pos=world.positions[axis],
            **kwargs,
        )

    @property
    def position(self) -> float:
        return world_of(self).positions[self.axis]

    def check_value(self, pos: float) -> None:
        with as_device_limit():
            check_travel(self.name, pos, self.limits, self.egu)

    def _setup_move(self, position: float, status) -> None:
        self._run_subs(sub_type=self.SUB_START, timestamp=time.time())
        self._started_moving = True
        world_of(self).move(self.axis, position, self.settle_s)
        self._set_position(position)
        self._done_moving()


class BacklashMixin:
    """Always approach a target from below: overshoot by ``backlash`` under it first.

    One status covers both legs of the move.
    """

    backlash = 0.0

    def move(self, position, wait=True, timeout=None, moved_cb=None):
        self.check_value(position)
        low, _ = self.limits
        if self.backlash <= 0 or position >= self.position - 1e-9:
            return super().move(position, wait=wait, timeout=timeout, moved_cb=moved_cb)
        approach = max(position - self.backlash, low)
        done = Status(obj=self, timeout=timeout)

        def second_leg(first):
            if not first.success:
                done.set_exception(first.exception())
                return
            last = super(BacklashMixin, self).move(
                position, wait=False, timeout=timeout, moved_cb=moved_cb
            )
            last.add_callback(
                lambda st: done.set_finished() if st.success else done.set_exception(st.exception())
            )

        super().move(approach, wait=False, timeout=timeout).add_callback(second_leg)
        if wait:
            status_wait(done)
        return done


class SimMonochromator(BacklashMixin, SimAxis):
    """Simulated monochromator energy axis, eV."""

    def __init__(self, **kwargs) -> None:
        super().__init__(axis="energy", **kwargs)


class EpicsMonochromator(BacklashMixin, EpicsMotor):
    """Monochromator energy as an EPICS motor record, eV."""
