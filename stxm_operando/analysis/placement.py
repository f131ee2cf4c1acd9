"""Put raster pixels where they were measured, whatever order they arrived in."""

import numpy as np
from scipy import ndimage


def place_by_position(values, x_um, y_um, step_nm: float) -> np.ndarray:
    """Image of ``values`` on the raster grid given each pixel's recorded position.

    Pixels are placed by their recorded (x, y) position, never by arrival order, so lines
    repeated or reordered by a pause and rewind land where they belong (a later value for the
    same grid point wins). The grid is the one the raster was written on: its phase is the
    circular mean of the positions modulo the step, and its edges are the outermost grid
    lines that hold a real share of the readings, so encoder jitter, even a reading pushed
    past the last line, neither grows the image nor shifts it. Readings beyond an edge go
    to the edge; grid points with no reading are NaN.

    Parameters
    ----------
    values, x_um, y_um : arrays of one shape
        Measured values and the recorded stage positions of each, um.
    step_nm : float
        Raster step, nm.

    Returns
    -------
    2-D ndarray, rows along y and columns along x, starting at the smallest position.

    Examples
    --------
    >>> x, y = np.meshgrid([0.0, 0.04, 0.08], [1.0, 1.04])
    >>> v = np.arange(6.0).reshape(2, 3)
    >>> place_by_position(v[::-1], x[::-1], y[::-1], 40.0)  # lines arrived in reverse
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """
    values = np.asarray(values, dtype=float).ravel()
    x_um, y_um = np.asarray(x_um, dtype=float).ravel(), np.asarray(y_um, dtype=float).ravel()
    if not (values.size == x_um.size == y_um.size) or values.size == 0:
        raise ValueError("values and positions must be non-empty and of one size")
    if not step_nm > 0:
        raise ValueError(f"step must be positive, got {step_nm} nm")
    if not (np.all(np.isfinite(x_um)) and np.all(np.isfinite(y_um))):
        raise ValueError("recorded positions must be finite")
    step_um = step_nm / 1e3
    columns = _grid_indices(x_um, step_um)
    rows = _grid_indices(y_um, step_um)
    image = np.full((rows.max() + 1, columns.max() + 1), np.nan)
    image[rows, columns] = values
    return image


def _grid_indices(position_um: np.ndarray, step_um: float, share: float = 0.1) -> np.ndarray:
    """Index of each position on its grid (0 at the first line), edges clipped to the lines
    holding at least ``share`` of a typical line's readings."""
    turns = position_um / step_um
    phase = np.angle(np.exp(2j * np.pi * turns).mean()) / (2 * np.pi)
    index = np.rint(turns - phase).astype(np.int64)
    index -= index.min()
    per_line = np.bincount(index)
    lines = np.flatnonzero(per_line >= share * np.median(per_line[per_line > 0]))
    return np.clip(index, lines[0], lines[-1]) - lines[0]


def fill_missing(image, max_passes: int = 8) -> np.ndarray:
    """``image`` with its missing (non-finite) pixels replaced by the mean of their measured
    3 x 3 neighbours, pass after pass, so a hole left by a lost reading does not spread
    through registration or unmixing.

    Parameters
    ----------
    image : 2-D array
    max_passes : int
        Holes wider than about twice this many pixels stay NaN.

    Examples
    --------
    >>> fill_missing([[1.0, 2.0, 3.0], [4.0, np.nan, 6.0], [7.0, 8.0, 9.0]])[1, 1]
    np.float64(5.0)
    """
    image = np.array(image, dtype=float)
    for _ in range(max_passes):
        missing = ~np.isfinite(image)
        if not missing.any():
            break
        measured = np.where(missing, 0.0, image)
        total = ndimage.uniform_filter(measured, 3, mode="constant") * 9
        count = ndimage.uniform_filter((~missing).astype(float), 3, mode="constant") * 9
        fillable = missing & (count > 0.5)
        image[fillable] = total[fillable] / count[fillable]
    return image
