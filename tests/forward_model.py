"""An independent forward model of rotated LiFePO4 platelets imaged by a STXM raster.

It shares no code with ``stxm_operando.sim`` or ``stxm_operando.analysis``, and it differs
from them where real data differ from the analysis's assumptions:

- **Pixel integration.** Each raster pixel averages *transmission* over its 40 nm x 40 nm
  footprint (``SUBSAMPLES`` x ``SUBSAMPLES`` points, one at random in each cell of that
  grid, so edges parallel to the pixel grid are not quantised), so a pixel that straddles a
  particle edge is partly covered and its optical density is not linear in its content.
- **Its own absorption table** (``MU_FORWARD``), a few percent off the analysis's table.
- **Incident flux** that differs per energy and per frame, and a membrane.
- **Drift** moves the particles themselves (no Fourier shift of an image).
- **Geometry.** Trapezoidal platelets (channels of unequal length) at any angle and any
  sub-pixel position; a surface layer of its own composition at each (010) face.

Composition of a platelet at a point (s along [001], u along [010], nm from its centre):
``x_surface(s)`` within ``surface_depth_nm`` of a (010) face, ``x_internal(s)`` elsewhere.
The true current density of the [010] channel at ``s``, per area of its two (010) faces, is
``j(s) = F rho d/dt [integral of x du] / 2``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FARADAY = 96485.33212  # C/mol
LI_SITES_MOL_CM3 = 3.60 / 157.76  # LiFePO4: 3.60 g/cm3, 157.76 g/mol
PIXEL_NM = 40.0
SUBSAMPLES = 12
JITTER = np.random.default_rng(20231302)  # stratified sampling: no grid-locked edges
MEMBRANE_OD = 0.08  # uniform, at both energies

# Absorption per um of (LiFePO4, FePO4) at (708.2, 710.2) eV. Not the analysis's table
# (9.0, 4.44 / 4.68, 9.5): as two measurements of reference spectra differ, each phase is
# normalised differently (LiFePO4 +4 %, FePO4 -3 %: the spread of edge-jump normalisations)
# and each entry is off by a further 1-2 % (energy calibration, counting noise).
MU_FORWARD = np.array([[9.0, 4.4393], [4.68, 9.5]]) * [[1.04, 0.97]] * [[1.01, 0.98], [0.98, 1.02]]

Profile = Callable[[np.ndarray, float], np.ndarray]  # (s_nm, t_s) -> Li fraction


@dataclass(frozen=True)
class Platelet:
    """A [100]-oriented platelet: [001] along ``angle_deg`` from +column towards +row.

    ``width_nm`` is the [010] length (channel length) at the two [001] ends; it varies
    linearly between them, so channels differ in length.
    """

    center_nm: tuple[float, float]  # (row, column) in the sample frame, nm
    angle_deg: float
    length_nm: float
    width_nm: tuple[float, float]
    thickness_nm: float
    x_surface: Profile
    x_internal: Profile
    surface_depth_nm: float = 120.0

    def local(self, rows_nm, cols_nm, drift_nm=(0.0, 0.0)):
        """(s along [001], u along [010]) of sample points, nm."""
        theta = np.deg2rad(self.angle_deg)
        dr = rows_nm - self.center_nm[0] - drift_nm[0]
        dc = cols_nm - self.center_nm[1] - drift_nm[1]
        return dc * np.cos(theta) + dr * np.sin(theta), -dc * np.sin(theta) + dr * np.cos(theta)

    def channel_length_nm(self, s_nm) -> np.ndarray:
        """[010] length of the channel at ``s``, nm."""
        w0, w1 = self.width_nm
        return w0 + (w1 - w0) * (np.asarray(s_nm) / self.length_nm + 0.5)

    def fraction_and_inside(self, rows_nm, cols_nm, time_s, drift_nm=(0.0, 0.0)):
        s, u = self.local(rows_nm, cols_nm, drift_nm)
        half = self.channel_length_nm(s) / 2
        inside = (np.abs(s) <= self.length_nm / 2) & (np.abs(u) <= half)
        at_surface = half - np.abs(u) < self.surface_depth_nm
        x = np.where(at_surface, self.x_surface(s, time_s), self.x_internal(s, time_s))
        return np.where(inside, x, 0.0), inside

    def true_current_mA_cm2(self, s_nm, t0_s: float, t1_s: float) -> np.ndarray:
        """Channel current density between two times, per (010) face area, mA/cm2."""
        s_nm = np.asarray(s_nm, dtype=float)
        depth = np.minimum(self.surface_depth_nm, self.channel_length_nm(s_nm) / 2)

        def content_nm(t):  # integral of x along the channel, nm
            bulk = self.channel_length_nm(s_nm) - 2 * depth
            return 2 * depth * self.x_surface(s_nm, t) + bulk * self.x_internal(s_nm, t)

        rate_cm_s = (content_nm(t1_s) - content_nm(t0_s)) * 1e-7 / (t1_s - t0_s)
        return FARADAY * LI_SITES_MOL_CM3 * rate_cm_s / 2 * 1e3


@dataclass(frozen=True)
class Truth:
    """What the raster saw, pixel by pixel (content-weighted over each footprint)."""

    x: np.ndarray  # Li fraction of the covered part of each pixel (NaN where empty)
    coverage: np.ndarray  # covered fraction of each pixel
    thickness_um: np.ndarray  # coverage x platelet thickness


def render(platelets, shape, energies_index, time_s, i0, drift_nm=(0.0, 0.0), rng=None):
    """Counts of one raster at one energy, and the truth behind them.

    Parameters
    ----------
    platelets : sequence of Platelet
    shape : (rows, columns) of the raster, 40 nm pixels
    energies_index : 0 for 708.2 eV, 1 for 710.2 eV (rows of ``MU_FORWARD``)
    time_s : the composition's time
    i0 : incident counts per pixel
    drift_nm : (row, column) displacement of the sample, nm
    rng : numpy Generator for Poisson counting noise; None gives expected counts
    """
    cell = PIXEL_NM / SUBSAMPLES
    rows = np.arange(shape[0] * SUBSAMPLES) * cell
    cols = np.arange(shape[1] * SUBSAMPLES) * cell
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    rr = rr + JITTER.uniform(0, cell, rr.shape)
    cc = cc + JITTER.uniform(0, cell, cc.shape)
    od = np.full(rr.shape, MEMBRANE_OD)
    content = np.zeros(rr.shape)
    covered = np.zeros(rr.shape)
    thickness = np.zeros(rr.shape)
    mu_lfp, mu_fp = MU_FORWARD[energies_index]
    for p in platelets:
        x, inside = p.fraction_and_inside(rr, cc, time_s, drift_nm)
        t_um = p.thickness_nm / 1e3
        od += np.where(inside, t_um * (x * mu_lfp + (1 - x) * mu_fp), 0.0)
        content += x * inside
        covered += inside
        thickness += inside * t_um

    def per_pixel(values):
        return values.reshape(shape[0], SUBSAMPLES, shape[1], SUBSAMPLES).mean(axis=(1, 3))

    expected = i0 * per_pixel(np.exp(-od))
    counts = expected if rng is None else rng.poisson(expected).astype(float)
    coverage = per_pixel(covered)
    with np.errstate(invalid="ignore"):
        x_true = np.where(coverage > 0, per_pixel(content) / coverage, np.nan)
    return counts, Truth(x_true, coverage, per_pixel(thickness))


def frame_pair(platelets, shape, time_s, i0_pair, drift_nm=(0.0, 0.0), rng=None):
    """Counts at 708.2 and 710.2 eV (each with its own I0), and the truth."""
    first, truth = render(platelets, shape, 0, time_s, i0_pair[0], drift_nm, rng)
    second, _ = render(platelets, shape, 1, time_s, i0_pair[1], drift_nm, rng)
    return first, second, truth


def channel_s_nm(platelet: Platelet, pixels, drift_nm=(0.0, 0.0)) -> float:
    """Mean [001] position of a set of (row, column) pixel centres, nm."""
    centres = (np.asarray(pixels, dtype=float) + 0.5) * PIXEL_NM
    s, _ = platelet.local(centres[:, 0], centres[:, 1], drift_nm)
    return float(s.mean())
