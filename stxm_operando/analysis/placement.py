"""Put raster pixels where they were measured, whatever order they arrived in."""

import numpy as np


def place_by_position(values, x_um, y_um, step_nm: float) -> np.ndarray:
    """Image of ``values`` on the raster grid given each pixel's recorded position.

    Pixels are placed by their recorded (x, y) position, never by arrival order, so lines
    repeated or reordered by a pause and rewind land where they belong (a later value for the
    same grid point wins). Grid points with no reading are NaN.

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
    columns = np.rint((x_um - x_um.min()) / step_um).astype(int)
    rows = np.rint((y_um - y_um.min()) / step_um).astype(int)
    image = np.full((rows.max() + 1, columns.max() + 1), np.nan)
    image[rows, columns] = values
    return image
