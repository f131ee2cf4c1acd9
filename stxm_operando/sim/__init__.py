"""The simulated beamline: a world with a clock, particles in a liquid cell, optics, detector
and potentiostat. Pure numpy/scipy; the ophyd devices and the caproto IOC drive it."""

from ..limits import Mode
from .beamline import ScanResult, SimulatedBeamline
from .potentiostat import PotentiostatModel

__all__ = ["Mode", "PotentiostatModel", "ScanResult", "SimulatedBeamline"]
