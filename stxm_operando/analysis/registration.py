"""Drift registration: subpixel phase cross-correlation, shifting and series alignment."""

import numpy as np
from scipy import ndimage


def _upsampled_dft(
    data: np.ndarray, region: int, upsample: float, offsets: np.ndarray
) -> np.ndarray:
    """Inverse DFT of ``data`` on a ``region``-sized grid upsampled around ``offsets``."""
    for n_items, offset in list(zip(data.shape, offsets, strict=True))[::-1]:
        kernel = (np.arange(region) - offset)[:, None] * np.fft.fftfreq(n_items, upsample)
        data = np.tensordot(np.exp(-2j * np.pi * kernel), data, axes=(1, -1))
    return data


def register_frames(reference, moving, upsample: int = 20) -> tuple[float, float]:
    """Subpixel shift (dy, dx) that aligns ``moving`` to ``reference``, pixels.

    Phase cross-correlation refined by an upsampled DFT around the integer peak
    (Guizar-Sicairos et al., Opt. Lett. 33, 156, 2008). ``apply_shift(moving, shift)``
    then overlays ``reference``. Register on maps whose contrast does not change with
    time, such as thickness or the mean OD of both energies.

    Parameters
    ----------
    reference, moving : 2-D arrays of the same shape
    upsample : int
        Precision is 1/upsample pixel.

    Returns
    -------
    (dy, dx) : tuple of float, pixels

    Examples
    --------
    >>> y, x = np.mgrid[:64, :64]
    >>> spot = lambda cy, cx: np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 20)
    >>> register_frames(spot(30, 30), spot(32.5, 28.25))
    (-2.5, 1.75)
    """
    reference = np.asarray(reference, dtype=float)
    moving = np.asarray(moving, dtype=float)
    if reference.shape != moving.shape or reference.ndim != 2:
        raise ValueError(
            f"need two 2-D maps of one shape, got {reference.shape} and {moving.shape}"
        )
    if not (np.all(np.isfinite(reference)) and np.all(np.isfinite(moving))):
        raise ValueError("maps to register must be finite (replace NaN first)")
    # phase correlation ignores scale: normalise so huge values cannot overflow
    reference = reference / max(float(np.abs(reference).max()), 1e-300)
    moving = moving / max(float(np.abs(moving).max()), 1e-300)
    product = np.fft.fft2(reference) * np.fft.fft2(moving).conj()
    product /= np.maximum(np.abs(product), 1e-12 * np.abs(product).max() + 1e-300)
    correlation = np.fft.ifft2(product)
    peak = np.array(
        np.unravel_index(np.argmax(np.abs(correlation)), correlation.shape), dtype=float
    )
    shape = np.array(reference.shape)
    peak[peak > shape // 2] -= shape[peak > shape // 2]
    peak = np.round(peak * upsample) / upsample
    region = int(np.ceil(upsample * 1.5))
    centre = np.fix(region / 2.0)
    refined = _upsampled_dft(product.conj(), region, upsample, centre - peak * upsample).conj()
    fine = np.array(np.unravel_index(np.argmax(np.abs(refined)), refined.shape), dtype=float)
    shift = peak + (fine - centre) / upsample
    return float(shift[0]), float(shift[1])


def apply_shift(image, shift, fill: float = np.nan) -> np.ndarray:
    """Shift an image by (dy, dx) pixels (bilinear); uncovered pixels get ``fill``.

    Examples
    --------
    >>> apply_shift(np.arange(4.0)[None, :], (0, 1))
    array([[nan,  0.,  1.,  2.]])
    """
    image = np.asarray(image, dtype=float)
    return ndimage.shift(image, shift, order=1, mode="constant", cval=fill)


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
