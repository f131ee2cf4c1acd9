"""Storage-ring beam current, for pausing imaging when the beam is lost."""

from ophyd import Component as Cpt
from ophyd import Device, EpicsSignalRO

from .sim_signals import WorldReadbacks, WorldSignal


class BeamMonitor(Device):
    """Interface shared by both backends. Components: current (mA)."""


class SimBeamMonitor(WorldReadbacks, BeamMonitor):
    """Ring current of the simulated beamline; pass ``world=``."""

    current = Cpt(WorldSignal, getter=lambda w: w.beam_current_mA, kind="hinted")

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, **kwargs)
        self._watch_world()


class EpicsBeamMonitor(BeamMonitor):
    """Ring current over Channel Access, PV ``{prefix}Current`` (mA)."""

    current = Cpt(EpicsSignalRO, "Current", auto_monitor=True, kind="hinted")
