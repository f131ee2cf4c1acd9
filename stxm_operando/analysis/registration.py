"""Drift registration: windowed phase correlation, refined by object centroids (or by
least-squares image matching), shifting and series alignment."""

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu, window
from skimage.registration import phase_cross_correlation

REFINE_ITERATIONS = 12
"""Most Gauss-Newton steps of the least-squares refinement; it usually converges in 3-4."""

OBJECT_MARGIN_PX = 4
"""Pixels of background kept around each object for its centroid (more than the rounding
of the coarse shift and the blur of its edges)."""


def _centroid_shift(reference: np.ndarray, moving: np.ndarray, coarse: np.ndarray):
    """Mass-weighted mean of the objects' centroid shifts, or None without a whole object.

    A raster integrates over each pixel, and integration conserves an object's mass and,
    to within c(1 - c)/2 px per edge pixel over its whole mass, its centroid: the centroid
    shift of an object that lies wholly inside both fields is its drift, however the pixel
    grid cuts its edges. Objects are the Otsu-thresholded reference grown by
    ``OBJECT_MARGIN_PX`` from half the Otsu level (so that blurred tails are kept); the
    moving map's object is taken at the coarse shift.
    """
    floor = np.median(reference)
    level = floor + 0.5 * (threshold_otsu(reference) - floor)
    grown = ndimage.binary_dilation(reference > level, iterations=OBJECT_MARGIN_PX)
    labels, _ = ndimage.label(grown)
    background = (
        (np.median(reference[~grown]), np.median(moving[~grown])) if (~grown).any() else (0.0, 0.0)
    )
    offset = np.round(coarse).astype(int)
    boxes = ndimage.find_objects(labels)
    low = np.array([[box[0].start, box[1].start] for box in boxes]).reshape(-1, 2)
    high = np.array([[box[0].stop, box[1].stop] for box in boxes]).reshape(-1, 2)
    last = np.array(reference.shape) - 1
    whole = (
        np.all(low >= 1, axis=1)  # not cut by the field's edge in the reference
        & np.all(high <= last, axis=1)
        & np.all(low - offset >= 1, axis=1)  # nor in the moving map
        & np.all(high - offset <= last, axis=1)
    )
    index = np.flatnonzero(whole) + 1
    if index.size == 0:
        return None
    weights_ref = reference - background[0]
    weights_mov = np.roll(moving, offset, axis=(0, 1)) - background[1]  # moving[r - offset]
    mass_ref = ndimage.sum_labels(weights_ref, labels, index)
    mass_mov = ndimage.sum_labels(weights_mov, labels, index)
    massive = (mass_ref > 0) & (mass_mov > 0)
    if not massive.any():
        return None
    index, mass_ref = index[massive], mass_ref[massive]
    centre_ref = np.array(ndimage.center_of_mass(weights_ref, labels, index))
    centre_mov = np.array(ndimage.center_of_mass(weights_mov, labels, index)) - offset
    return np.average(centre_ref - centre_mov, axis=0, weights=mass_ref)


def _least_squares_shift(reference: np.ndarray, moving: np.ndarray, start: np.ndarray):
    """Shift at which ``gain * shift(moving) + offset`` best matches ``reference``.

    Gauss-Newton on (dy, dx, gain, offset), the moving map resampled by cubic splines and
    compared over the region that stays inside the field for any shift near ``start``.
    Used when no object lies wholly inside the field; edges parallel to the pixel grid
    bias it by up to about 0.05 px.
    """
    border = int(np.ceil(np.abs(start).max())) + 3
    if min(reference.shape) <= 2 * border + 4:
        return start
    core = (slice(border, -border), slice(border, -border))
    target = reference[core].ravel()
    shift, gain, offset = start.astype(float), 1.0, 0.0
    for _ in range(REFINE_ITERATIONS):
        shifted = ndimage.shift(moving, shift, order=3, mode="nearest")
        grad_y, grad_x = np.gradient(shifted)
        model = shifted[core].ravel()
        jacobian = np.stack(
            [
                -gain * grad_y[core].ravel(),
                -gain * grad_x[core].ravel(),
                model,
                np.ones_like(model),
            ],
            axis=1,
        )
        step, *_ = np.linalg.lstsq(jacobian, target - (gain * model + offset), rcond=None)
        if not np.all(np.isfinite(step)) or np.abs(step[:2]).max() > 1.0:
            return start  # no convergence: keep the correlation's estimate
        shift, gain, offset = shift + step[:2], gain + step[2], offset + step[3]
        if np.abs(step[:2]).max() < 1e-4:
            break
    return shift


def register_frames(reference, moving, upsample: int = 20) -> tuple[float, float]:
    """Subpixel shift (dy, dx) that aligns ``moving`` to ``reference``, pixels.

    A raster integrates over each pixel, so a particle's edge is a step that whitened
    phase correlation locks to whole pixels. The shift is first found to 1/``upsample``
    px by scikit-image's ``phase_cross_correlation`` without whitening, on Hann-windowed
    maps (so particles cut by the field's edge do not pull it towards zero), then refined
    from the centroids of the objects that lie wholly inside both fields (pixel
    integration conserves them), or, without such an object, by least-squares matching of
    the cubic-spline-shifted map with a gain and an offset that absorb a slow change of
    contrast. ``apply_shift(moving, shift)`` then overlays
    ``reference``. Register on maps whose contrast does not change with time, such as
    thickness or the mean OD of both energies.

    Parameters
    ----------
    reference, moving : 2-D arrays of the same shape
    upsample : int
        Precision of the correlation step, 1/upsample pixel.

    Returns
    -------
    (dy, dx) : tuple of float, pixels

    Examples
    --------
    >>> y, x = np.mgrid[:64, :64]
    >>> spot = lambda cy, cx: np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 20)
    >>> np.round(register_frames(spot(30, 30), spot(32.5, 28.25)), 1).tolist()
    [-2.5, 1.8]
    """
    reference = np.asarray(reference, dtype=float)
    moving = np.asarray(moving, dtype=float)
    if reference.shape != moving.shape or reference.ndim != 2:
        raise ValueError(
            f"need two 2-D maps of one shape, got {reference.shape} and {moving.shape}"
        )
    if not (np.all(np.isfinite(reference)) and np.all(np.isfinite(moving))):
        raise ValueError("maps to register must be finite (replace NaN first)")
    # correlation ignores scale: normalise so huge values cannot overflow
    reference = reference / max(float(np.abs(reference).max()), 1e-300)
    moving = moving / max(float(np.abs(moving).max()), 1e-300)
    if not (np.ptp(reference) > 0 and np.ptp(moving) > 0):
        return 0.0, 0.0  # nothing to register on
    hann = window("hann", reference.shape)
    coarse, _, _ = phase_cross_correlation(
        (reference - reference.mean()) * hann,
        (moving - moving.mean()) * hann,
        upsample_factor=upsample,
        normalization=None,
    )
    coarse = np.asarray(coarse, dtype=float)
    refined = _centroid_shift(reference, moving, coarse)
    if refined is None or np.abs(refined - coarse).max() > 1:
        refined = _least_squares_shift(reference, moving, coarse)
    shift = coarse if np.abs(refined - coarse).max() > 1 else refined
    return float(shift[0]), float(shift[1])


def apply_shift(image, shift, fill: float = np.nan, order: int = 1) -> np.ndarray:
    """Shift an image by (dy, dx) pixels, bilinear (``order=1``) or cubic-spline (3, sharper
    edges); uncovered pixels get ``fill``.

    Examples
    --------
    >>> apply_shift(np.arange(4.0)[None, :], (0, 1))
    array([[nan,  0.,  1.,  2.]])
    """
    image = np.asarray(image, dtype=float)
    return ndimage.shift(image, shift, order=order, mode="constant", cval=fill)


def register_series(
    frames, reference_index: int = 0, max_shift: float = 10.0, upsample: int = 20
) -> np.ndarray:
    """Drift of every frame of a time series relative to one reference frame.

    Parameters
    ----------
    frames : (n, h, w) array
        Maps with stable contrast (thickness or mean OD).
    reference_index : int
        Frame the others are aligned to.
    max_shift : float
        Largest believable drift, pixels; a larger result raises ValueError (a failed
        registration, or a particle that left the field).

    Returns
    -------
    (n, 2) ndarray
        (dy, dx) per frame that aligns it to the reference, pixels.
    """
    frames = np.asarray(frames, dtype=float)
    if frames.ndim != 3 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (n, h, w) stack, got {frames.shape}")
    shifts = np.array(
        [register_frames(frames[reference_index], frame, upsample) for frame in frames]
    )
    too_far = np.flatnonzero(np.abs(shifts).max(axis=1) > max_shift)
    if too_far.size:
        raise ValueError(
            f"frames {too_far.tolist()} drifted by more than {max_shift} px: "
            f"{shifts[too_far].round(2).tolist()}"
        )
    return shifts


def align_series(frames, shifts, crop: bool = True) -> np.ndarray:
    """Apply per-frame shifts; optionally crop to the region every frame covers.

    Returns
    -------
    (n, h', w') ndarray
        Aligned frames; NaN marks uncovered pixels when ``crop`` is False.
    """
    frames, shifts = np.asarray(frames, dtype=float), np.asarray(shifts, dtype=float)
    if shifts.shape != (len(frames), 2):
        raise ValueError(f"need one (dy, dx) per frame, got shifts of shape {shifts.shape}")
    aligned = np.stack([apply_shift(f, s) for f, s in zip(frames, shifts, strict=True)])
    if not crop:
        return aligned
    low = np.ceil(np.maximum(shifts.max(axis=0), 0)).astype(int)
    high = np.ceil(np.maximum(-shifts.min(axis=0), 0)).astype(int)
    h, w = frames.shape[1:]
    return aligned[:, low[0] : h - high[0], low[1] : w - high[1]]
