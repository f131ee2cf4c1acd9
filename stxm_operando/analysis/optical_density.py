"""Counts to optical density, and optical density to Li fraction and thickness."""

import warnings

import numpy as np

MIN_COUNTS = 0.5
"""Non-positive counts are clamped to half a count before the logarithm."""


def optical_density(counts, i0=None, blank_mask=None) -> np.ndarray:
    """Optical density OD = -ln(I / I0) of a transmission image.

    Parameters
    ----------
    counts : array
        Transmitted counts I.
    i0 : float or array, optional
        Incident counts, a scalar or an array broadcastable to ``counts``.
    blank_mask : bool array, optional
        Pixels with no sample; I0 is their mean count. Give exactly one of ``i0`` and
        ``blank_mask``. A blank region in the same image also removes the membrane's OD.

    Returns
    -------
    ndarray
        Optical density (dimensionless), same shape as ``counts``.

    Warns
    -----
    RuntimeWarning
        When non-positive counts are clamped to ``MIN_COUNTS``, or non-finite counts
        (missing pixels) give NaN.

    Examples
    --------
    >>> optical_density([500.0, 250.0], i0=1000.0).round(3)
    array([0.693, 1.386])
    """
    counts = np.asarray(counts, dtype=float)
    if (i0 is None) == (blank_mask is None):
        raise ValueError("give exactly one of i0 and blank_mask")
    if blank_mask is not None:
        blank_mask = np.asarray(blank_mask, dtype=bool)
        if blank_mask.shape != counts.shape:
            raise ValueError(f"blank_mask shape {blank_mask.shape} != counts {counts.shape}")
        if not blank_mask.any():
            raise ValueError("blank_mask selects no pixels")
        i0 = counts[blank_mask].mean()
    i0 = np.asarray(i0, dtype=float)
    try:
        np.broadcast_shapes(i0.shape, counts.shape)
    except ValueError:
        raise ValueError(f"i0 shape {i0.shape} does not match counts {counts.shape}") from None
    if np.any(~(i0 > 0)):
        raise ValueError("i0 must be positive")
    missing = ~np.isfinite(counts)
    low = (counts <= 0) & ~missing
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} non-finite counts give NaN", RuntimeWarning, stacklevel=2
        )
    if low.any():
        warnings.warn(
            f"{int(low.sum())} non-positive counts clamped to {MIN_COUNTS}",
            RuntimeWarning,
            stacklevel=2,
        )
    counts = np.where(low, MIN_COUNTS, np.where(missing, np.nan, counts))
    with np.errstate(invalid="ignore"):
        return np.log(i0) - np.log(counts)  # in log space: no overflow for extreme I0


def _check_mu(mu: np.ndarray, n_energies: int) -> np.ndarray:
    mu = np.asarray(mu, dtype=float)
    if mu.ndim != 2 or mu.shape[0] != n_energies or mu.shape[1] > n_energies:
        raise ValueError(
            f"mu must be (n_energies={n_energies}, n_phases <= n_energies), got shape {mu.shape}"
        )
    if not np.all(np.isfinite(mu)) or np.linalg.cond(mu) > 1e8:
        raise ValueError("mu is singular: the energies do not distinguish the phases")
    return mu


def unmix_two_energy(od_e1, od_e2, mu) -> tuple[np.ndarray, np.ndarray]:
    """Li fraction and thickness from OD maps at two energies (per-pixel 2 x 2 solve).

    ``OD(E_i) = sum_j mu[i][j] t_j`` with phase 0 = LiFePO4 and 1 = FePO4; then
    ``x = t_0 / (t_0 + t_1)`` and thickness ``t_0 + t_1``.

    Parameters
    ----------
    od_e1, od_e2 : array
        OD maps at the two energies (e.g. 708.2 and 710.2 eV), same shape.
    mu : (2, 2) array_like
        ``mu[i][j]`` = absorption per unit thickness of phase j at energy i, e.g. 1/um.

    Returns
    -------
    x : ndarray
        Li fraction, clipped to [0, 1]; NaN where the thickness is not positive.
    thickness : ndarray
        Total thickness in the inverse unit of ``mu`` (um for mu in 1/um).

    Examples
    --------
    >>> mu = [[9.0, 4.44], [4.68, 9.5]]
    >>> x, t = unmix_two_energy([9.0 * 0.1 + 4.44 * 0.05], [4.68 * 0.1 + 9.5 * 0.05], mu)
    >>> float(x[0].round(3)), float(t[0].round(3))
    (0.667, 0.15)
    """
    od_e1, od_e2 = np.asarray(od_e1, dtype=float), np.asarray(od_e2, dtype=float)
    if od_e1.shape != od_e2.shape:
        raise ValueError(f"OD maps differ in shape: {od_e1.shape} vs {od_e2.shape}")
    mu = _check_mu(mu, 2)
    if mu.shape != (2, 2):
        raise ValueError(f"mu must be 2 x 2 for two energies, got {mu.shape}")
    phases = unmix_stack(np.stack([od_e1, od_e2]), mu)
    return fraction_and_thickness(phases)


def unmix_stack(od_stack, mu_matrix) -> np.ndarray:
    """Per-pixel least-squares phase thicknesses from an N-energy OD stack.

    Parameters
    ----------
    od_stack : (n_energies, ...) array
        OD maps, one per energy.
    mu_matrix : (n_energies, n_phases) array_like
        Absorption per unit thickness of each phase at each energy.

    Returns
    -------
    (n_phases, ...) ndarray
        Thickness of each phase in the inverse unit of ``mu_matrix``; for LiFePO4 / FePO4
        the Li fraction is ``t[0] / (t[0] + t[1])``.

    Examples
    --------
    >>> mu = [[9.0, 4.44], [4.68, 9.5], [1.0, 1.0]]
    >>> unmix_stack([[0.9], [0.47], [0.1]], mu).round(3)[:, 0]
    array([0.1, 0. ])
    """
    od_stack = np.asarray(od_stack, dtype=float)
    mu = _check_mu(mu_matrix, od_stack.shape[0])
    flat = od_stack.reshape(od_stack.shape[0], -1)
    phases = np.linalg.pinv(mu) @ flat
    return phases.reshape((mu.shape[1], *od_stack.shape[1:]))


def fraction_and_thickness(phases) -> tuple[np.ndarray, np.ndarray]:
    """Li fraction (clipped to [0, 1], NaN where not positive) and total thickness from
    (LiFePO4, FePO4) thickness maps, e.g. after registering those maps.

    Examples
    --------
    >>> x, t = fraction_and_thickness(np.array([[0.1, 0.0], [0.05, 0.0]]))
    >>> x.round(3).tolist(), t.round(3).tolist()
    ([0.667, nan], [0.15, 0.0])
    """
    phases = np.asarray(phases, dtype=float)
    thickness = phases[0] + phases[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(thickness > 0, phases[0] / thickness, np.nan)
    return np.clip(x, 0.0, 1.0), thickness


def unmix_partial_coverage(od_e1, od_e2, mu, height, iterations: int = 48):
    """Li fraction and covered fraction of pixels that straddle a particle's edge.

    A raster pixel averages *transmission* over its footprint. Where a particle of thickness
    ``h`` covers a fraction ``c`` of it, the pixel transmits
    ``T_i = 1 - c + c exp(-h (x mu[i][0] + (1 - x) mu[i][1]))`` at energy i, so its optical
    density is not ``c`` times the covered OD: the per-pixel linear solve
    (``unmix_two_energy``) then biases x towards 0.5 and reports ``c h`` too thin. With ``h``
    known (the particle's own thickness away from its edges), the two energies fix ``c`` and
    ``x``: for a trial ``c`` the covered part's OD is ``-ln(1 - (1 - T_i) / c)``; its linear
    solve gives a thickness that falls as ``c`` grows, and ``c`` is where it equals ``h``
    (found by bisection). Pixels at least ``h`` thick are fully covered and keep the linear
    solution. Counting noise is amplified by about ``1 / c``: trust x only where ``c`` is
    not small.

    Parameters
    ----------
    od_e1, od_e2 : array
        OD maps at the two energies (blank-corrected), same shape.
    mu : (2, 2) array_like
        ``mu[i][j]`` = absorption of phase j (0 LiFePO4, 1 FePO4) at energy i, 1/um.
    height : float or array
        Thickness of the covering particle, um (same inverse unit as ``mu``).
    iterations : int
        Bisection steps; 48 resolve c to about 1e-14.

    Returns
    -------
    x : ndarray
        Li fraction of the covered part, clipped to [0, 1]; NaN where nothing absorbs.
    coverage : ndarray
        Covered fraction of each pixel, in (0, 1].

    Examples
    --------
    >>> mu = np.array([[9.0, 4.44], [4.68, 9.5]])
    >>> h, c, x_true = 0.15, 0.5, 0.05  # half-covered pixel of a Li-poor particle
    >>> od = -np.log(1 - c + c * np.exp(-h * (mu @ [x_true, 1 - x_true])))
    >>> float(unmix_two_energy(od[0], od[1], mu)[0].round(2))  # the linear solve is biased
    0.19
    >>> x, coverage = unmix_partial_coverage(od[0], od[1], mu, h)
    >>> float(x.round(3)), float(coverage.round(3))
    (0.05, 0.5)
    """
    od = np.stack(np.broadcast_arrays(np.asarray(od_e1, float), np.asarray(od_e2, float)))
    mu = _check_mu(mu, 2)
    height = np.broadcast_to(np.asarray(height, dtype=float), od.shape[1:])
    if np.any(~(height > 0)):
        raise ValueError("the particle height must be positive")
    inverse = np.linalg.inv(mu)
    weights = inverse.sum(axis=0)  # thickness = weights @ OD
    absorbed = -np.expm1(-od)  # 1 - T_i, > 0 where the pixel absorbs
    coverage = np.ones(od.shape[1:])
    edge = np.tensordot(weights, od, axes=1) < height  # thinner than the particle
    absorbed_edge, height_edge = absorbed[:, edge], height[edge]

    def covered_od(absorbed, coverage):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.log1p(-absorbed / coverage)

    low = np.clip(absorbed_edge.max(axis=0), 1e-12, 1.0)  # below it the covered OD is infinite
    high = np.ones_like(low)
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        too_thick = weights @ covered_od(absorbed_edge, middle) > height_edge
        low, high = np.where(too_thick, middle, low), np.where(too_thick, high, middle)
    coverage[edge] = high
    od = od.copy()
    od[:, edge] = covered_od(absorbed_edge, high)
    x, _ = fraction_and_thickness(np.tensordot(inverse, od, axes=1))
    return np.where(absorbed.max(axis=0) > 0, x, np.nan), coverage
