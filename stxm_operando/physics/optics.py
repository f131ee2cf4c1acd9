"""Zone-plate optics: focal length and defocus blur."""

import math

from .constants import wavelength_nm


def focal_length_um(energy_eV: float, diameter_um: float, outer_zone_nm: float) -> float:
    """Zone-plate first-order focal length f = D dr E / (hc), um.

    Examples
    --------
    >>> round(focal_length_um(708.2, 240.0, 25.0))
    3427
    """
    return diameter_um * outer_zone_nm / wavelength_nm(energy_eV)


def probe_sigma_nm(defocus_um: float, energy_eV: float, outer_zone_nm: float) -> float:
    """Gaussian sigma of the focused probe at a defocus, nm.

    In focus the Rayleigh resolution 1.22 dr sets the spot (FWHM); away from focus the geometric
    cone of half-angle NA = lambda / (2 dr) adds in quadrature.
    """
    in_focus = 1.22 * outer_zone_nm / 2.355
    numerical_aperture = wavelength_nm(energy_eV) / (2 * outer_zone_nm)
    geometric = abs(defocus_um) * 1e3 * numerical_aperture / 2.355
    return math.hypot(in_focus, geometric)
