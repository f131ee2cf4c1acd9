"""Physical constants used across the simulator and the analysis (SI unless the name says)."""

HC_EV_NM = 1239.841984
"""Planck constant times speed of light, eV nm."""

BOLTZMANN_EV_K = 8.617333262e-5
"""Boltzmann constant, eV/K."""

FARADAY_C_MOL = 96485.33212
"""Faraday constant, C/mol."""

ROOM_TEMPERATURE_K = 298.15

JOULE_PER_EV = 1.602176634e-19

LFP_DENSITY_G_CM3 = 3.60
"""Density of LiFePO4, g/cm3."""

LFP_SITE_DENSITY_MOL_CM3 = LFP_DENSITY_G_CM3 / 157.76
"""Li sites per volume of LiFePO4 (molar mass 157.76 g/mol), mol/cm3."""

REFERENCE_OCV_V = 3.428
"""Overpotential reference, V vs Li: as the paper defines it, the middle of the 0.2C
lithiation and delithiation plateaus of LiFePO4 (Koo et al. 2023)."""

OCV_PLATEAU_V = 3.4284
"""Cell voltage (V vs Li) at zero electrode chemical potential in the particle model,
calibrated so that the middle of the model's own 0.2C plateaus (``paper.reference_voltage``)
is ``REFERENCE_OCV_V``; ``tests/test_paper.py`` checks it."""


def thermal_voltage(temperature_K: float = ROOM_TEMPERATURE_K) -> float:
    """Return kT/e in V."""
    return BOLTZMANN_EV_K * temperature_K


def wavelength_nm(energy_eV: float) -> float:
    """Return the photon wavelength in nm for an energy in eV."""
    return HC_EV_NM / energy_eV
