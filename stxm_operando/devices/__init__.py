"""Ophyd devices of the STXM beamline, each with a simulated and an EPICS backend.

>>> from stxm_operando.devices import simulated_beamline
>>> bl = simulated_beamline()
>>> status = bl.scanner.set(708.2)    # mono and zone plate together
"""

from .beam import BeamMonitor, EpicsBeamMonitor, SimBeamMonitor
from .beamline import Beamline, epics_beamline, simulated_beamline
from .clock import Clock, EpicsClock, SimClock
from .detectors import (
    EpicsPointDetector,
    EpicsRasterDetector,
    PointDetector,
    RasterDetector,
    SimPointDetector,
    SimRasterDetector,
)
from .potentiostat import ComplianceError, EpicsPotentiostat, Mode, Potentiostat, SimPotentiostat
from .scanner import EpicsZonePlateScanner, SimZonePlateScanner, ZonePlateScanner
from .shutter import EpicsShutter, Shutter, SimShutter
from .status import finished_status

__all__ = [
    "BeamMonitor",
    "Beamline",
    "Clock",
    "ComplianceError",
    "EpicsBeamMonitor",
    "EpicsClock",
    "EpicsPointDetector",
    "EpicsPotentiostat",
    "EpicsRasterDetector",
    "EpicsShutter",
    "EpicsZonePlateScanner",
    "Mode",
    "PointDetector",
    "Potentiostat",
    "RasterDetector",
    "Shutter",
    "SimBeamMonitor",
    "SimClock",
    "SimPointDetector",
    "SimPotentiostat",
    "SimRasterDetector",
    "SimShutter",
    "SimZonePlateScanner",
    "ZonePlateScanner",
    "epics_beamline",
    "finished_status",
    "simulated_beamline",
]
