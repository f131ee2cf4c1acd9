"""Rates, per-channel current densities, surface composition and exchange currents."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from ..physics.constants import (
    FARADAY_C_MOL,
    LFP_SITE_DENSITY_MOL_CM3,
    REFERENCE_OCV_V,
    thermal_voltage,
)
from ..physics.kinetics import j0_skewed
from .channels import Channel

__all__ = [
    "J0Fit",
    "channel_current",
    "exchange_current",
    "fit_j0",
    "frame_exchange_current",
    "j0_skewed",
    "rate_map",
    "surface_composition",
]

LINEAR_REGIME_V = 0.120
"""Largest |overpotential| for which the linear current-overpotential relation holds, V."""


def rate_map(x_before, x_after, dt_s: float) -> np.ndarray:
    """Lithiation rate dx/dt between two registered Li fraction maps, 1/s.

    Mark pixels outside the particle NaN in each map (as ``analyse_frame_pair`` does): the
    rate is then NaN wherever a pixel is outside the particle in either frame, so an edge
    pixel that drift moved in or out of the particle never reads as a reaction.

    Examples
    --------
    >>> rate_map([[0.2, 0.4, np.nan]], [[0.3, 0.4, 0.5]], 10.0)
    array([[0.01, 0.  ,  nan]])
    """
    x_before, x_after = np.asarray(x_before, dtype=float), np.asarray(x_after, dtype=float)
    if x_before.shape != x_after.shape:
        raise ValueError(f"x maps differ in shape: {x_before.shape} vs {x_after.shape}")
    if not dt_s > 0:
        raise ValueError(f"dt must be positive, got {dt_s} s")
    return (x_after - x_before) / dt_s


def _pixel_values(image: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    return image[pixels[:, 0], pixels[:, 1]]


def channel_current(
    rate, channel_list: Sequence[Channel], pixel_size_nm: float, thickness_nm=None
) -> np.ndarray:
    """Current density j_Ch of each channel per reacting (010) surface area, mA/cm2.

    ``j_Ch = F rho_Li a sum_i (dx/dt)_i t_i / (2 t_face)``: the Li taken up along the
    channel (pixel pitch a, material thickness t_i of each pixel: coverage x height at an
    edge) divided by the area of its two (010) faces. A face is as high as the particle,
    however a pixel grid happens to cut it, so ``t_face`` is the median thickness of the
    channel's interior pixels, not the thickness of its end pixels (which a face crossing
    them leaves partly covered). Where the particle's (001) face cuts a whole channel
    lengthwise, its interior is partly covered too, and ``t_face`` shrinks with the face's
    width. Pixels whose rate is NaN (outside the particle in either frame) add nothing.
    Positive for lithiation.

    Parameters
    ----------
    rate : 2-D array
        dx/dt map, 1/s.
    channel_list : sequence of Channel
    pixel_size_nm : float
        Pixel pitch along the channel, nm.
    thickness_nm : float or 2-D array, optional
        Material thickness of each pixel, nm; it cancels when uniform (the default).

    Returns
    -------
    ndarray, one value per channel, mA/cm2.

    Examples
    --------
    >>> from stxm_operando.analysis.channels import Channel
    >>> ch = Channel(0, np.array([[0, 0], [1, 0], [2, 0], [3, 0]]))
    >>> j = channel_current(np.full((4, 1), 1e-3), [ch], pixel_size_nm=40.0)
    >>> round(float(j[0]), 4)  # F rho * 4 px * 40 nm * 1e-3 /s / 2, in mA/cm2
    0.0176
    """
    rate = np.asarray(rate, dtype=float)
    if not pixel_size_nm > 0:
        raise ValueError(f"pixel size must be positive, got {pixel_size_nm} nm")
    thickness = np.broadcast_to(
        np.asarray(1.0 if thickness_nm is None else thickness_nm, dtype=float), rate.shape
    )
    if not channel_list:
        return np.empty(0)
    pitch_cm = pixel_size_nm * 1e-7
    charge_density = FARADAY_C_MOL * LFP_SITE_DENSITY_MOL_CM3  # C/cm3
    pixels, owner = _grouped([channel.pixels for channel in channel_list])
    uptake = np.bincount(
        owner,
        weights=np.nan_to_num(_pixel_values(rate, pixels) * _pixel_values(thickness, pixels)),
        minlength=len(channel_list),
    )
    interior, inner_owner = _grouped([channel.interior for channel in channel_list])
    face = _grouped_median(_pixel_values(thickness, interior), inner_owner, len(channel_list))
    no_interior = np.isnan(face)  # two-pixel channels: the thicker end
    face[no_interior] = [
        _pixel_values(thickness, channel_list[k].pixels).max() for k in np.flatnonzero(no_interior)
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(face > 0, charge_density * uptake * pitch_cm / (2 * face) * 1e3, np.nan)


def _grouped(pixel_lists: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All (row, column) pixels of several lists, and the index of the list of each."""
    lengths = [len(pixels) for pixels in pixel_lists]
    pixels = np.concatenate([np.reshape(p, (-1, 2)) for p in pixel_lists]).astype(int)
    return pixels, np.repeat(np.arange(len(pixel_lists)), lengths)


def _grouped_median(values: np.ndarray, owner: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group (NaN for an empty group), without a Python loop."""
    order = np.lexsort((values, owner))
    values = values[order]
    counts = np.bincount(owner, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    medians = np.full(n_groups, np.nan)
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    medians[has] = 0.5 * (values[low] + values[high])
    return medians


def surface_composition(x, channel_list: Sequence[Channel]) -> np.ndarray:
    """x_surf of each channel: the mean Li fraction of its two end pixels.

    Examples
    --------
    >>> from stxm_operando.analysis.channels import Channel
    >>> ch = Channel(0, np.array([[0, 0], [1, 0], [2, 0]]))
    >>> surface_composition(np.array([[0.8], [0.5], [0.6]]), [ch])
    array([0.7])
    """
    x = np.asarray(x, dtype=float)
    if not channel_list:
        return np.empty(0)
    ends = np.stack([channel.ends for channel in channel_list])  # (n, 2, 2)
    return x[ends[..., 0], ends[..., 1]].mean(axis=1)


def exchange_current(j_ch, eta_V, temperature_K: float = 298.15) -> np.ndarray:
    """Exchange current density from the linear current-overpotential relation.

    ``j = -j0 e eta / kT`` (lithiation, j > 0, needs eta < 0), so ``j0 = -j kT / (e eta)``,
    valid only for 0 < |eta| < 120 mV. A negative result marks a channel reacting against
    the overpotential.

    Parameters
    ----------
    j_ch : array
        Current densities, mA/cm2 (positive = lithiation).
    eta_V : float or array
        Overpotential V - V_eq, V.
    temperature_K : float

    Returns
    -------
    ndarray, mA/cm2.

    Examples
    --------
    >>> round(float(exchange_current(0.2, -0.05)), 4)
    0.1028
    """
    eta = np.asarray(eta_V, dtype=float)
    if np.any(~np.isfinite(eta)) or np.any(np.abs(eta) >= LINEAR_REGIME_V) or np.any(eta == 0):
        raise ValueError(
            f"the linear current-overpotential relation needs 0 < |eta| < "
            f"{LINEAR_REGIME_V * 1e3:.0f} mV, got eta = {eta_V} V"
        )
    return -np.asarray(j_ch, dtype=float) * thermal_voltage(temperature_K) / eta


def exchange_current_butler_volmer(j_ch, eta_V, temperature_K: float = 298.15) -> np.ndarray:
    """Exchange current density from symmetric Butler-Volmer kinetics, any overpotential.

    ``j = -2 j0 sinh(e eta / 2kT)``, so ``j0 = -j / (2 sinh(e eta / 2kT))``; equal to
    ``exchange_current`` in the linear regime and valid beyond it.

    Examples
    --------
    >>> round(float(exchange_current_butler_volmer(0.2, -0.05)), 4)  # linear: 0.1028
    0.0882
    """
    eta = np.asarray(eta_V, dtype=float)
    if np.any(~np.isfinite(eta)) or np.any(eta == 0):
        raise ValueError(f"the overpotential must be finite and non-zero, got {eta_V} V")
    return -np.asarray(j_ch, dtype=float) / (
        2 * np.sinh(eta / (2 * thermal_voltage(temperature_K)))
    )


DRIVEN_DIRECTIONS = ("lithiation", "delithiation")


def frame_exchange_current(
    j_ch, voltage_V: float, direction: str, reference_V: float = REFERENCE_OCV_V
) -> np.ndarray | None:
    """Exchange current density of a frame's channels (``j_ch``, mA/cm2) at the cell's
    ``voltage_V`` (V) against the equilibrium ``reference_V`` (V), by Butler-Volmer; None
    when no current is driven (a rest or a hold) or the overpotential is zero or unknown.

    Examples
    --------
    >>> round(float(frame_exchange_current([0.2], 3.372, "lithiation", 3.422)[0]), 4)
    0.0882
    >>> frame_exchange_current([0.2], 3.43, "rest") is None
    True
    """
    eta = voltage_V - reference_V
    if direction not in DRIVEN_DIRECTIONS or j_ch is None or not np.isfinite(eta) or eta == 0:
        return None
    return exchange_current_butler_volmer(j_ch, eta)


@dataclass(frozen=True)
class J0Fit:
    """Fit of ``j0(x) = amplitude x^a (1 - x)^b`` with one-sigma uncertainties."""

    amplitude: float
    a: float
    b: float
    stderr: tuple[float, float, float]

    def __call__(self, x) -> np.ndarray:
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        return self.amplitude * x**self.a * (1 - x) ** self.b

    @property
    def x_max(self) -> float:
        """Composition of the maximum, a / (a + b)."""
        return self.a / (self.a + self.b)


def fit_j0(x_surf, j0) -> J0Fit:
    """Fit a skewed ``A x^a (1-x)^b`` to exchange currents against surface composition.

    The Lim 2016 form is a = 0.5, b = 1.5 (maximum at x = 0.25).

    Examples
    --------
    >>> x = np.linspace(0.05, 0.95, 30)
    >>> fit = fit_j0(x, 2.0 * j0_skewed(x))
    >>> round(fit.a, 2), round(fit.b, 2), round(fit.x_max, 2)
    (0.5, 1.5, 0.25)
    """
    x, j0 = np.asarray(x_surf, dtype=float).ravel(), np.asarray(j0, dtype=float).ravel()
    if x.shape != j0.shape:
        raise ValueError(f"x_surf and j0 differ in length: {x.size} vs {j0.size}")
    keep = np.isfinite(x) & np.isfinite(j0) & (x > 0) & (x < 1) & (j0 > 0)
    if keep.sum() < 4:
        raise ValueError(f"need at least 4 points with 0 < x < 1 and j0 > 0, got {keep.sum()}")
    x, j0 = x[keep], j0[keep]

    def model(x, amplitude, a, b):
        return amplitude * x**a * (1 - x) ** b

    guess = (j0.max() / 0.33, 0.5, 1.5)
    params, covariance = curve_fit(
        model, x, j0, p0=guess, bounds=([0, 0, 0], [np.inf, 10, 10]), maxfev=20000
    )
    stderr = np.sqrt(np.clip(np.diag(covariance), 0, np.inf))
    return J0Fit(*(float(p) for p in params), stderr=tuple(float(s) for s in stderr))
