"""Bluesky plans: imaging, electrochemistry steps and the operando protocol.

Every plan takes the beamline's devices (``stxm_operando.devices.Beamline``) first and checks
all its arguments before anything moves or any current flows (``PlanArgumentError``).
"""

from .electrochem import (
    Galvanostatic,
    HoldPotential,
    Rest,
    electrochemistry,
    galvanostatic,
    hold_potential,
    rest,
    switch_off_on_halt,
)
from .find import find_particles
from .imaging import (
    FE_L3_ENERGIES_EV,
    ParticleROI,
    focus_scan,
    stack,
    two_energy_image,
)
from .operando import operando
from .spectra import EnergyRegion, line_spectrum, point_spectrum
from .validation import PlanArgumentError

__all__ = [
    "FE_L3_ENERGIES_EV",
    "EnergyRegion",
    "Galvanostatic",
    "HoldPotential",
    "ParticleROI",
    "PlanArgumentError",
    "Rest",
    "electrochemistry",
    "find_particles",
    "focus_scan",
    "galvanostatic",
    "hold_potential",
    "line_spectrum",
    "operando",
    "point_spectrum",
    "rest",
    "stack",
    "switch_off_on_halt",
    "two_energy_image",
]
