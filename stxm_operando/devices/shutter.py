"""The fast shutter. In its default ``auto`` mode the detectors open it for each acquisition
and only for it, so the sample sees no beam between images; ``set("open")`` or
``set("closed")`` holds it (alignment, dark measurements), ``set("auto")`` hands it back.

Readings: ``is_open``, and for the current or last opening ``exposure`` (s) and ``photons``
(that reached the sample); ``total_exposure`` (s) since the beamline started.
"""

from ophyd import Component as Cpt
from ophyd import Device, EpicsSignal, EpicsSignalRO
from ophyd.status import Status

from ..limits import check_shutter_mode
from .sim_signals import WorldReadbacks, WorldSignal


class Shutter(Device):
    """Interface shared by both backends. Components: mode (config), is_open, exposure (s),
    photons, total_exposure (s)."""

    def set(self, mode: str) -> Status:
        check_shutter_mode(mode)
        return self.mode.set(mode)


def _shutter(attribute: str):
    return lambda world: getattr(world.shutter, attribute)


class SimShutter(WorldReadbacks, Shutter):
    """Shutter of the simulated beamline; pass ``world=``."""

    mode = Cpt(
        WorldSignal,
        getter=_shutter("mode"),
        setter=lambda w, v: w.shutter.set_mode(v, w.clock_s),
        kind="config",
    )
    is_open = Cpt(WorldSignal, getter=lambda w: int(w.shutter.is_open))
    exposure = Cpt(WorldSignal, getter=_shutter("last_exposure_s"))
    photons = Cpt(WorldSignal, getter=_shutter("last_photons"))
    total_exposure = Cpt(WorldSignal, getter=_shutter("total_exposure_s"), kind="omitted")

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, **kwargs)
        self._watch_world()


class EpicsShutter(Shutter):
    """Shutter over Channel Access: ``{prefix}Mode``, ``{prefix}Open_RBV``,
    ``{prefix}Exposure``, ``{prefix}Photons``, ``{prefix}TotalExposure``."""

    mode = Cpt(EpicsSignal, "Mode", string=True, put_complete=True, kind="config")
    is_open = Cpt(EpicsSignalRO, "Open_RBV")
    exposure = Cpt(EpicsSignalRO, "Exposure")
    photons = Cpt(EpicsSignalRO, "Photons")
    total_exposure = Cpt(EpicsSignalRO, "TotalExposure", kind="omitted")
