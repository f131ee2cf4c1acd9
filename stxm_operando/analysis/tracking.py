"""Following a particle as the sample drifts: where it lies in its last image."""

import numpy as np
from scipy import ndimage

from .optical_density import optical_density
from .pipeline import blank_region


def particle_centroid_um(counts, x_um, y_um, min_od: float = 0.1) -> tuple[float, float]:
    """Where the particle of a raster image lies, in stage coordinates (um): the
    OD-weighted centroid of the most absorbing connected region thicker than ``min_od``.

    Parameters
    ----------
    counts : 2-D array
        Transmitted counts of one raster.
    x_um, y_um : 2-D arrays of the same shape
        The recorded stage position of each pixel, um.
    min_od : float
        Optical density (above the blank) that counts as particle.

    Raises
    ------
    ValueError
        When nothing in the image absorbs more than ``min_od``.

    Examples
    --------
    >>> y, x = np.mgrid[0:20, 0:30] * 0.04          # a 40 nm grid, um
    >>> counts = np.full((20, 30), 1e4)
    >>> counts[5:9, 10:16] = 3e3                      # a platelet
    >>> [round(v, 3) for v in particle_centroid_um(counts, x, y)]
    [0.5, 0.26]
    """
    counts = np.asarray(counts, dtype=float)
    od = optical_density(counts, blank_mask=blank_region(counts))
    labels, count = ndimage.label(od > min_od)
    if count == 0:
        raise ValueError(f"no particle in the image: nothing absorbs more than {min_od} OD")
    weights = np.where(labels > 0, od, 0.0)
    sums = ndimage.sum(weights, labels, index=np.arange(1, count + 1))
    particle = (labels == 1 + int(np.argmax(sums))) * weights
    total = particle.sum()
    x_um, y_um = np.asarray(x_um, dtype=float), np.asarray(y_um, dtype=float)
    return float((particle * x_um).sum() / total), float((particle * y_um).sum() / total)
