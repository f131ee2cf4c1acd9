"""Focus: an image's sharpness and the best focus from a through-focus series."""

from collections.abc import Sequence

import numpy as np


def edge_sharpness(image: np.ndarray) -> float:
    """Focus figure of merit: mean squared gradient of the image normalised by its mean.

    Parameters
    ----------
    image : counts or transmission, any units (the figure is scale-free).

    Returns
    -------
    float : larger for a sharper image; 0 for a uniform one.

    Examples
    --------
    >>> step = np.zeros((8, 8)); step[:, 4:] = 1.0
    >>> soft = np.tile(np.linspace(0, 1, 8), (8, 1))
    >>> edge_sharpness(step + 1) > edge_sharpness(soft + 1)
    True
    """
    image = np.asarray(image, dtype=float)
    gy, gx = np.gradient(image / max(image.mean(), 1e-12))
    return float(np.mean(gx**2 + gy**2))


def best_focus(offsets_um: Sequence[float], sharpness: Sequence[float]) -> float:
    """The zone-plate offset (um) of the sharpest image, refined between the steps by the
    vertex of the parabola through the sharpest point and its two neighbours.

    At either end of the series the sharpest offset itself is returned: the peak is not
    bracketed.

    Examples
    --------
    >>> offsets = [-4.0, -2.0, 0.0, 2.0, 4.0]
    >>> round(best_focus(offsets, [-(z - 0.7) ** 2 for z in offsets]), 6)
    0.7
    >>> best_focus(offsets, [5, 4, 3, 2, 1])
    -4.0
    """
    z = np.asarray(offsets_um, dtype=float)
    order = np.argsort(z)
    z, s = z[order], np.asarray(sharpness, dtype=float)[order]
    k = int(np.argmax(s))
    if k == 0 or k == len(z) - 1:
        return float(z[k])
    a, b, _ = np.polyfit(z[k - 1 : k + 2], s[k - 1 : k + 2], 2)
    return float(np.clip(-b / (2 * a), z[k - 1], z[k + 1])) if a < 0 else float(z[k])
