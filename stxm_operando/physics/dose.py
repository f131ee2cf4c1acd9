"""Radiation dose from the photons a raster delivers."""

from .constants import JOULE_PER_EV, LFP_DENSITY_G_CM3


def absorbed_dose_gray(
    photons: float,
    area_um2: float,
    energy_eV: float,
    mu_per_um: float,
    density_g_cm3: float = LFP_DENSITY_G_CM3,
) -> float:
    """Dose (Gy = J/kg) absorbed by a thin sample from ``photons`` spread evenly over
    ``area_um2``: fluence x photon energy x linear absorption (1/um) / density.

    Examples
    --------
    1e9 photons of 710 eV over 1 um2, mu = 5 /um, 3.6 g/cm3: about 158 MGy.

    >>> round(absorbed_dose_gray(1e9, 1.0, 710.0, 5.0) / 1e6)
    158
    """
    fluence_m2 = photons / (area_um2 * 1e-12)
    energy_J = energy_eV * JOULE_PER_EV
    mu_per_m = mu_per_um * 1e6
    density_kg_m3 = density_g_cm3 * 1e3
    return fluence_m2 * energy_J * mu_per_m / density_kg_m3
