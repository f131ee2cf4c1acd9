"""Build the beamline's devices on either backend, with the same names and interface."""

from dataclasses import dataclass

from ophyd import Device

from ..config import BeamlineConfig
from ..sim import SimulatedBeamline
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

PV_GROUPS = {
    "scanner": "",
    "potentiostat": "Pstat:",
    "raster": "Raster:",
    "point": "Point:",
    "clock": "Clock:",
    "beam": "Beam:",
}
"""PV prefix of each device, appended to the beamline prefix (see README, PV layout)."""


@dataclass
class Beamline:
    """The devices of one beamline. ``world`` is the simulated world, or None over EPICS."""

    scanner: ZonePlateScanner
    potentiostat: Potentiostat
    raster: RasterDetector
    point: PointDetector
    clock: Clock
    beam: BeamMonitor
    config: BeamlineConfig
    world: SimulatedBeamline | None = None

    def devices(self) -> dict[str, Device]:
        """Devices by name, e.g. to put into an IPython namespace."""
        return {name: getattr(self, name) for name in PV_GROUPS}


def simulated_beamline(
    config: BeamlineConfig | None = None, world: SimulatedBeamline | None = None
) -> Beamline:
    """Devices backed by an in-process simulated beamline (a new one unless ``world`` given)."""
    world = world or SimulatedBeamline(config)
    return Beamline(
        scanner=SimZonePlateScanner(world=world, name="scanner"),
        potentiostat=SimPotentiostat(world=world, name="potentiostat"),
        raster=SimRasterDetector(world=world, name="raster"),
        point=SimPointDetector(world=world, name="point"),
        clock=SimClock(world=world, name="clock"),
        beam=SimBeamMonitor(world=world, name="beam"),
        config=world.config,
        world=world,
    )


def epics_beamline(
    config: BeamlineConfig | None = None, *, prefix: str | None = None, timeout: float = 10.0
) -> Beamline:
    """Devices over Channel Access, connected (or TimeoutError after ``timeout`` s)."""
    config = config or BeamlineConfig()
    base = config.epics.prefix if prefix is None else prefix
    devices = {
        "scanner": EpicsZonePlateScanner(base, config=config, name="scanner"),
        "potentiostat": EpicsPotentiostat(base + PV_GROUPS["potentiostat"], name="potentiostat"),
        "raster": EpicsRasterDetector(base + PV_GROUPS["raster"], config=config, name="raster"),
        "point": EpicsPointDetector(base + PV_GROUPS["point"], name="point"),
        "clock": EpicsClock(base + PV_GROUPS["clock"], name="clock"),
        "beam": EpicsBeamMonitor(base + PV_GROUPS["beam"], name="beam"),
    }
    for device in devices.values():
        device.wait_for_connection(timeout=timeout)
    return Beamline(config=config, **devices)
