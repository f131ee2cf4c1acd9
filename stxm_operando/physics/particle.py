"""Cahn-Hilliard-reaction model of one [100]-oriented LiFePO4 platelet.

Grid axis 0 runs along [010] (a row of pixels along axis 0 is one channel), axis 1 along [001].
Li enters and leaves only through the two (010) end pixels of each channel (Butler-Volmer),
diffuses fast along [010] and slowly across channels. Free energy: regular solution (Omega),
gradient energy, whole-particle and per-channel coherency strain (Bai, Cogswell & Bazant 2011;
MPET). Internally time is in units of ``L_ref**2 / D_010`` and energy in kT.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .constants import FARADAY_C_MOL, LFP_SITE_DENSITY_MOL_CM3
from .kinetics import j0_skewed

J0_FORMS = ("bv", "lim")
_C_MIN, _C_MAX = 1e-5, 1 - 1e-5
_ALPHA = 0.5  # symmetric Butler-Volmer; the electrode's closed-form potential solve needs it


@dataclass(frozen=True)
class PlateletParameters:
    """Material parameters of the platelet model.

    Attributes
    ----------
    omega_kT : regular-solution interaction, kT.
    coherency_kT : whole-particle coherency strain, kT.
    channel_coherency_kT : coherency-strain penalty of composition varying along a channel
        (from that channel's mean), kT: a lattice coherent along [010] resists it.
    diffusivity_cm2_s : chemical diffusivity along [010], cm2/s.
    cross_channel_ratio : D[001] / D[010].
    reference_length_nm : length that sets the time unit L_ref**2 / D, nm.
    rate_constant : mean surface rate constant k0 in units of D / L_ref.
    rate_spread : log-normal sigma of k0 over channel ends (seeded heterogeneity).
    j0_form : "lim" (default) for the exchange current the paper measured against surface
        composition (Koo et al. 2023, Fig. 4b; Lim et al., Science 2016):
        ``k0 (1-c) sqrt(c (1-c))``, peaked at c = 0.25, so a Li-poor surface reacts fast
        (autocatalytic delithiation) and a Li-rich one slowly (autoinhibitory lithiation);
        "bv" for ``k0 (1-c) exp(mu/2)`` (Bazant 2013), whose full Cahn-Hilliard mu
        (gradient and strain terms) inverts that skew at a diffuse surface.
    interface_width_px : phase-boundary width, pixels.
    surface_strain_fraction : share of the coherency strain that a (010) end pixel keeps.
        Coherency strain relaxes at a free surface (Cogswell & Bazant, ACS Nano 2012): a
        40 nm end pixel spans the free face and the constrained lattice behind it, about
        one relaxation length, so it keeps about half; 1 restores bulk strain at the face.
    """

    omega_kT: float = 4.5
    coherency_kT: float = 1.0
    channel_coherency_kT: float = 6.0
    diffusivity_cm2_s: float = 6e-13
    cross_channel_ratio: float = 0.01
    reference_length_nm: float = 400.0
    rate_constant: float = 0.05
    rate_spread: float = 0.3
    j0_form: str = "lim"
    interface_width_px: float = 1.5
    surface_strain_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.j0_form not in J0_FORMS:
            raise ValueError(f"j0_form must be one of {J0_FORMS}, not {self.j0_form!r}")
        for name in (
            "omega_kT",
            "diffusivity_cm2_s",
            "reference_length_nm",
            "rate_constant",
            "interface_width_px",
            "cross_channel_ratio",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.surface_strain_fraction <= 1:
            raise ValueError(
                f"surface_strain_fraction must be in [0, 1], got {self.surface_strain_fraction}"
            )

    @property
    def time_unit_s(self) -> float:
        """Model time unit L_ref**2 / D_010, s."""
        return (self.reference_length_nm * 1e-7) ** 2 / self.diffusivity_cm2_s

    @property
    def current_density_unit_mA_cm2(self) -> float:
        """Surface current density of a unit model flux (L_ref / time unit), mA/cm2."""
        velocity_cm_s = self.reference_length_nm * 1e-7 / self.time_unit_s
        return FARADAY_C_MOL * LFP_SITE_DENSITY_MOL_CM3 * velocity_cm_s * 1e3


def _neumann_laplacian(n: int, h: float) -> sp.csr_matrix:
    ones = np.ones(n)
    lap = sp.diags([ones[:-1], -2 * ones, ones[:-1]], [-1, 0, 1]).tolil()
    if n > 1:
        lap[0, 0] = lap[-1, -1] = -1
    else:
        lap[0, 0] = 0
    return (lap / h**2).tocsr()


@dataclass
class PlateletModel:
    """One platelet particle: composition grid ``c[010 index, 001 index]``, Li fraction 0-1.

    Parameters
    ----------
    n_010, n_001 : pixels along [010] (channel length) and [001] (number of channels).
    pixel_nm : pixel size, nm.
    params : material parameters.
    seed : seeds the per-channel rate heterogeneity.
    x0 : initial Li fraction.
    """

    n_010: int
    n_001: int
    pixel_nm: float = 40.0
    params: PlateletParameters = field(default_factory=PlateletParameters)
    seed: int = 0
    x0: float = 0.02
    c: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n_010 < 3 or self.n_001 < 1:
            raise ValueError("a platelet needs at least 3 pixels along [010] and 1 channel")
        if not 0 < self.x0 < 1:
            raise ValueError(f"x0 must be inside (0, 1), got {self.x0}")
        p = self.params
        self.h = self.pixel_nm / p.reference_length_nm
        width = p.interface_width_px * self.h
        self.kappa = p.omega_kT * width**2
        rng = np.random.default_rng(self.seed)
        self.k0 = p.rate_constant * np.exp(p.rate_spread * rng.standard_normal((2, self.n_001)))
        # The grid's Laplacian is L_010 (x) I + I (x) L_001: it acts on c as L_010 c + c L_001
        # (both symmetric), and the semi-implicit operator is diagonal in the product of their
        # eigenvectors, so each step is four small matrix products, never an n^2 solve.
        lap_010 = _neumann_laplacian(self.n_010, self.h).toarray()
        lap_001 = _neumann_laplacian(self.n_001, self.h).toarray()
        self._kappa_lap_010, self._kappa_lap_001 = self.kappa * lap_010, self.kappa * lap_001
        self._eigen_010, self._modes_010 = np.linalg.eigh(lap_010)
        self._eigen_001, self._modes_001 = np.linalg.eigh(lap_001)
        self._ends = slice(None, None, self.n_010 - 1)  # rows 0 and -1: the (010) faces
        self._stabiliser = 2 * p.omega_kT + p.channel_coherency_kT
        self._strain_weight = np.ones((self.n_010, 1))  # free (010) faces keep less strain
        self._strain_weight[[0, -1]] = p.surface_strain_fraction
        self._solvers: dict[float, object] = {}
        self.c = np.full((self.n_010, self.n_001), float(self.x0))
        self.end_uptake = np.zeros((2, self.n_001))
        """Time integral of the reaction flux at each channel end, L_ref (ground truth)."""

    @property
    def mean_fraction(self) -> float:
        """Particle-averaged Li fraction."""
        return float(self.c.mean())

    def chemical_potential(self) -> np.ndarray:
        """Diffusional chemical potential of every pixel, kT."""
        p, c = self.params, self.c
        # coherency strain against the particle's and the channel's mean composition
        strain = (p.coherency_kT + p.channel_coherency_kT) * c
        strain -= (
            p.coherency_kT * c.sum() / c.size
            + p.channel_coherency_kT * c.sum(axis=0) / (c.shape[0])
        )
        strain *= self._strain_weight
        mu = np.log(c / (1 - c))  # ideal mixing
        mu += p.omega_kT - (2 * p.omega_kT) * c  # regular solution
        mu -= self._kappa_lap_010 @ c + c @ self._kappa_lap_001  # gradient energy
        mu += strain
        return mu

    def surface_kinetics(self, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chemical potential (kT) and exchange rate (model units) of the (2, n_001) end pixels."""
        mu_s, c_s = mu[self._ends], self.c[self._ends]
        if self.params.j0_form == "bv":
            shape = (1 - c_s) * np.exp(_ALPHA * mu_s)
        else:
            shape = j0_skewed(c_s)
        return mu_s, self.k0 * shape

    def step(self, dt: float, mu: np.ndarray, mu_e: float, kinetics=None) -> np.ndarray:
        """Advance by ``dt`` (model time) at electrode potential ``mu_e`` (kT).

        ``kinetics`` is ``surface_kinetics(mu)`` when the caller already has it. Returns the
        reaction flux R (2, n_001) at the channel ends, positive into the particle.
        """
        mu_s, j0 = self.surface_kinetics(mu) if kinetics is None else kinetics
        # symmetric Butler-Volmer: j0 (exp(-eta/2) - exp(eta/2))
        flux = -2.0 * j0 * np.sinh(_ALPHA * (mu_s - mu_e))
        rhs = self._transport(mu)
        rhs[self._ends] += flux / self.h
        modes_010, modes_001 = self._modes_010, self._modes_001
        dc = modes_010 @ ((modes_010.T @ rhs @ modes_001) * self._solver(dt)) @ modes_001.T
        c = self.c + dc
        np.maximum(c, _C_MIN, out=c)
        self.c = np.minimum(c, _C_MAX, out=c)
        self.end_uptake += flux * dt
        return flux

    def _transport(self, mu: np.ndarray) -> np.ndarray:
        """div(M grad mu) with mobility c(1-c) (averaged onto the faces between pixels), no
        flux through the walls."""
        c = self.c
        mobility = c - c * c
        along_010 = (mobility[1:] + mobility[:-1]) * (mu[1:] - mu[:-1])
        across = (mobility[:, 1:] + mobility[:, :-1]) * (mu[:, 1:] - mu[:, :-1])
        across *= self.params.cross_channel_ratio
        out = np.zeros_like(c)
        out[:-1] += along_010
        out[1:] -= along_010
        out[:, :-1] += across
        out[:, 1:] -= across
        out *= 0.5 / self.h**2
        return out

    def _solver(self, dt: float) -> np.ndarray:
        """Cached dt / eigenvalue (n_010, n_001) of the linearly stabilised semi-implicit
        operator for this dt, I + dt M (D K - S D) (D the anisotropic diffusion, K the gradient
        energy's Laplacian, M = 1/4 the largest mobility, S the stabiliser): a step's change
        in the operator's eigenmodes is the right-hand side's times this."""
        if dt not in self._solvers:
            mobility = 0.25
            along_010 = self._eigen_010[:, None]
            along_001 = self._eigen_001[None, :]
            diffusion = along_010 + self.params.cross_channel_ratio * along_001
            gradient = self.kappa * (along_010 + along_001)
            self._solvers[dt] = dt / (
                1
                + dt * mobility * diffusion * gradient
                - dt * mobility * self._stabiliser * diffusion
            )
        return self._solvers[dt]

    def channel_current_mA_cm2(self, flux: np.ndarray) -> np.ndarray:
        """Per-channel current density (both ends, per reacting end area), mA/cm2.

        ``flux`` is a (2, n_001) end flux in model units, e.g. from ``step`` or an
        ``end_uptake`` difference divided by the model time elapsed.
        """
        return flux.mean(axis=0) * self.params.current_density_unit_mA_cm2
