"""Particle masks from thickness maps."""

import numpy as np
from scipy import ndimage


def particle_mask(thickness, min_thickness: float = 0.05, min_pixels: int = 6) -> np.ndarray:
    """Label the particles in a thickness map, dropping pixels too thin to trust.

    Parameters
    ----------
    thickness : 2-D array
        Thickness map, e.g. um from ``unmix_two_energy`` (NaN counts as background).
    min_thickness : float
        Pixels thinner than this (same unit as ``thickness``) are background; 0.05 um
        keeps a 150 nm platelet and drops edge pixels that are only partly covered.
    min_pixels : int
        Particles with fewer pixels are dropped as noise or debris.

    Returns
    -------
    ndarray of int
        0 for background, 1..n for the particles in row-major order of their first pixel.

    Examples
    --------
    >>> t = np.zeros((8, 12)); t[1:4, 1:5] = 0.15; t[5:7, 6:11] = 0.12; t[7, 0] = 0.2
    >>> labels = particle_mask(t)
    >>> int(labels.max()), int((labels == 1).sum()), int((labels == 2).sum())
    (2, 12, 10)
    """
    thickness = np.asarray(thickness, dtype=float)
    if thickness.ndim != 2:
        raise ValueError(f"thickness must be a 2-D map, got shape {thickness.shape}")
    solid = ndimage.binary_fill_holes(np.nan_to_num(thickness, nan=0.0) > min_thickness)
    labels, n = ndimage.label(solid)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    labels[sizes[labels] < min_pixels] = 0
    return ndimage.label(labels > 0)[0]
