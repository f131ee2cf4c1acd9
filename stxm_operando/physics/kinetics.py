"""Exchange-current forms j0(x) for the LiFePO4 surface reaction."""

import numpy as np

_LIM_NORMALISATION = 16.0 / (3.0 * np.sqrt(3.0))


def j0_skewed(x):
    """Lim et al. (Science 2016) skewed exchange current, normalised to 1 at its maximum.

    ``j0~(x) = (1 - x) * sqrt(x (1 - x)) * 16 / (3 sqrt 3)``, maximal at x = 0.25. The paper
    reads j0~(0.64) ~ 0.52 and j0~(0.41) ~ 0.87 off the plotted curve.

    Parameters
    ----------
    x : float or array
        Li fraction, 0-1.

    Returns
    -------
    float or array
        Dimensionless exchange current.

    Examples
    --------
    >>> round(float(j0_skewed(0.25)), 6)
    1.0
    >>> round(float(j0_skewed(0.64)), 2), round(float(j0_skewed(0.41)), 2)
    (0.53, 0.89)
    """
    x = np.minimum(np.maximum(np.asarray(x, dtype=float), 0.0), 1.0)  # np.clip, faster
    return j0_skewed_of(x, 1.0 - x)


def j0_skewed_of(x: np.ndarray, vacancy: np.ndarray) -> np.ndarray:
    """``j0_skewed`` of Li fractions ``x`` already inside [0, 1], given ``vacancy = 1 - x``.

    Examples
    --------
    >>> x = np.array([0.25, 0.64])
    >>> bool(np.allclose(j0_skewed_of(x, 1 - x), j0_skewed(x)))
    True
    """
    return (_LIM_NORMALISATION * vacancy) * np.sqrt(x * vacancy)
