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


def particle_height(thickness, mask) -> float:
    """A particle's own thickness away from its edges (the height of its faces).

    The median thickness of the particle's pixels whose eight neighbours are all in the
    particle: those are fully covered, while a pixel that an edge crosses reads coverage x
    height. Small particles with no such pixel fall back to the median of all their pixels.

    Parameters
    ----------
    thickness : 2-D array
        Thickness map (e.g. um).
    mask : 2-D bool array
        Pixels of one particle.

    Returns
    -------
    float, the unit of ``thickness``.

    Examples
    --------
    >>> t = np.zeros((6, 7)); t[1:5, 1:6] = 0.15; t[1:5, 1] = 0.06  # a partly covered column
    >>> float(particle_height(t, t > 0))
    0.15
    """
    thickness, mask = map_and_mask(thickness, mask, "thickness")
    inner = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool))
    return float(np.nanmedian(thickness[inner if inner.any() else mask]))


def map_and_mask(values, mask, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A float map and the bool mask of one particle on it; ValueError if they do not fit."""
    values, mask = np.asarray(values, dtype=float), np.asarray(mask, dtype=bool)
    if values.shape != mask.shape:
        raise ValueError(f"{name} {values.shape} and mask {mask.shape} differ in shape")
    if not mask.any():
        raise ValueError("the particle mask is empty")
    return values, mask
