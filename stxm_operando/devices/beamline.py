"""Build the beamline's devices on either backend, with the same names and interface."""

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ophyd import Device

from ..config import BeamlineConfig
from .beam import BeamMonitor, EpicsBeamMonitor, SimBeamMonitor
from .clock import Clock, EpicsClock, SimClock
from .detectors import (
    EpicsPointDetector,
    EpicsRasterDetector,
    PointDetector,
    RasterDetector,
    SimPointDetector,
    SimRasterDetector,
)
from .potentiostat import EpicsPotentiostat, Potentiostat, SimPotentiostat
from .scanner import EpicsZonePlateScanner, SimZonePlateScanner, ZonePlateScanner
from .shutter import EpicsShutter, Shutter, SimShutter

if TYPE_CHECKING:
    from ..sim import SimulatedBeamline

PV_GROUPS = {
    "scanner": "",
    "potentiostat": "Pstat:",
    "raster": "Line:",
    "point": "Scaler1",
    "clock": "Clock:",
    "beam": "Beam:",
    "shutter": "Shutter:",
}
"""PV prefix of each device, appended to the beamline prefix (see README, PV layout)."""


READ_ON_SNAPSHOT = ("scanner", "potentiostat", "clock", "beam", "shutter")
"""Devices whose readings make up a reading of the whole beamline (no detectors)."""


@dataclass
class Beamline:
    """The devices of one beamline. ``world`` is the simulated world, or None over EPICS.

    It is a bluesky ``Readable`` under ``name`` (a snapshot of stage, energy, cell, clock
    and beam), so a queue server can pass it to plans by that name.
    """

    scanner: ZonePlateScanner
    potentiostat: Potentiostat
    raster: RasterDetector
    point: PointDetector
    clock: Clock
    beam: BeamMonitor
    shutter: Shutter
    config: BeamlineConfig
    world: "SimulatedBeamline | None" = None
    name: str = "bl"
    parent: None = None

    def devices(self) -> dict[str, Device]:
        """Devices by their names (``config.session.names``), e.g. for a namespace."""
        return {getattr(self, role).name: getattr(self, role) for role in PV_GROUPS}

    def read(self) -> dict:
        """Readings of the stage, energy, potentiostat, clock and beam (bluesky Readable)."""
        return {k: v for name in READ_ON_SNAPSHOT for k, v in getattr(self, name).read().items()}

    def describe(self) -> dict:
        return {
            k: v for name in READ_ON_SNAPSHOT for k, v in getattr(self, name).describe().items()
        }


def simulated_beamline(
    config: BeamlineConfig | None = None, world: "SimulatedBeamline | None" = None
) -> Beamline:
    """Devices backed by an in-process simulated beamline (a new one unless ``world`` given).

    Device names come from ``config.session.names``. With ``[potentiostat] backend =
    "methodscript"`` in ``config`` (or, without it, in the world's config) the potentiostat
    is that instrument, e.g. the world's own served by ``sim.methodscript``.
    """
    from ..sim import SimulatedBeamline  # only a simulated beamline needs the simulator

    world = world or SimulatedBeamline(config)
    names = world.config.session.names

    def beamline_time_s() -> float:  # after any clock move in progress: the instrument's
        with world.lock:  # readings are mapped onto the beamline clock at their script's start
            return world.clock_s

    potentiostat = instrument_potentiostat(config or world.config, beamline_time_s)
    return Beamline(
        scanner=SimZonePlateScanner(world=world, name=names.scanner),
        potentiostat=potentiostat or SimPotentiostat(world=world, name=names.potentiostat),
        raster=SimRasterDetector(world=world, name=names.raster),
        point=SimPointDetector(world=world, name=names.point),
        clock=SimClock(world=world, name=names.clock),
        beam=SimBeamMonitor(world=world, name=names.beam),
        shutter=SimShutter(world=world, name=names.shutter),
        config=world.config,
        world=world,
    )


def instrument_potentiostat(config: BeamlineConfig, clock) -> Potentiostat | None:
    """The potentiostat on an instrument of its own (``[potentiostat] backend``), connected
    and identified, or None when the beamline's backend drives it. ``clock`` gives the
    beamline time, s."""
    if config.potentiostat.backend != "methodscript":
        return None
    from .potentiostat_methodscript import MethodScriptPotentiostat  # pyserial, when used

    return MethodScriptPotentiostat(
        config.potentiostat.port,
        config=config.potentiostat,
        clock=clock,
        name=config.session.names.potentiostat,
    )


def epics_beamline(
    config: BeamlineConfig | None = None, *, prefix: str | None = None, timeout: float = 10.0
) -> Beamline:
    """Devices over Channel Access, connected (or TimeoutError after ``timeout`` s).

    PV prefixes come from ``config.epics`` (``prefix`` overrides the beamline prefix) and
    device names from ``config.session.names``.
    """
    config = config or BeamlineConfig()
    base = config.epics.prefix if prefix is None else prefix
    names = config.session.names

    def pv(role: str) -> str:
        return getattr(config.epics.devices, role) or base + PV_GROUPS[role]

    devices = {
        "scanner": EpicsZonePlateScanner(pv("scanner"), config=config, name=names.scanner),
        "potentiostat": instrument_potentiostat(config, time.time)
        or EpicsPotentiostat(pv("potentiostat"), name=names.potentiostat),
        "raster": EpicsRasterDetector(pv("raster"), config=config, name=names.raster),
        "point": EpicsPointDetector(pv("point"), name=names.point),
        "clock": EpicsClock(pv("clock"), name=names.clock),
        "beam": EpicsBeamMonitor(pv("beam"), name=names.beam),
        "shutter": EpicsShutter(pv("shutter"), name=names.shutter),
    }
    for device in devices.values():
        device.wait_for_connection(timeout=timeout)
    return Beamline(config=config, **devices)
