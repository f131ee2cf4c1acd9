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
from .kinetics import j0_skewed_of

J0_FORMS = ("bv", "lim")
_C_MIN, _C_MAX = 1e-5, 1 - 1e-5


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
        self._end_rows = np.array([0, self.n_010 - 1])  # the (010) faces
        self._butler_volmer = p.j0_form == "bv"
        self._omega_kT = p.omega_kT
        self._stabiliser = 2 * p.omega_kT + p.channel_coherency_kT
        lap_010 = _neumann_laplacian(self.n_010, self.h).toarray()
        lap_001 = _neumann_laplacian(self.n_001, self.h).toarray()
        # Every term of mu but ideal mixing and the particle-mean strain is linear in c and acts
        # along one axis: mu_linear = left @ c + c @ right.
        strain_weight = np.ones((self.n_010, 1))  # free (010) faces keep less strain
        strain_weight[[0, -1]] = p.surface_strain_fraction
        strain = p.coherency_kT + p.channel_coherency_kT
        self._left = (
            np.diag(strain * strain_weight[:, 0] - 2 * p.omega_kT)
            - self.kappa * lap_010
            - (p.channel_coherency_kT / self.n_010) * strain_weight
        )
        self._right = -self.kappa * lap_001
        self._strain_per_total = -(p.coherency_kT / (self.n_010 * self.n_001)) * strain_weight
        self._ones = np.ones(self.n_010 * self.n_001)
        # The grid's Laplacian is L_010 (x) I + I (x) L_001: it acts on c as L_010 c + c L_001
        # (both symmetric), and the semi-implicit operator is diagonal in the product of their
        # eigenvectors, so each step is four small matrix products, never an n^2 solve.
        self._eigen_010, self._modes_010 = np.linalg.eigh(lap_010)
        self._eigen_001, self._modes_001 = np.linalg.eigh(lap_001)
        self._modes_010_t = np.ascontiguousarray(self._modes_010.T)
        self._modes_001_t = np.ascontiguousarray(self._modes_001.T)
        size = self.n_010 * self.n_001
        self._along_faces = np.zeros(size + self.n_001)  # flattened, the walls first and last
        self._across_faces = np.zeros(size + 1)
        self._across_weight = np.full(size - 1, p.cross_channel_ratio)
        self._across_weight[self.n_001 - 1 :: self.n_001] = 0.0  # no face between rows
        # Reaction rates as fluxes through the wall faces, in the right-hand side's units:
        # 2 h times the flux, negated at the first wall (row 0 gains what that face loses).
        self._wall_signs = np.repeat([-1.0, 1.0], self.n_001)
        self._wall_k0 = (2 * self.h) * self.k0 * self._wall_signs.reshape(2, self.n_001)
        self._half_potentials = np.array([-0.5, 0.5])[:, None, None]
        self._wall_rates = np.empty((2, 2, self.n_001))  # insertion, extraction by end
        self._wall_weights = np.empty(2)  # u and -1/u, u = exp(mu_e / 2)
        self._wall_uptake = np.zeros(2 * self.n_001)
        self._solvers: dict[float, np.ndarray] = {}
        self.c = np.full((self.n_010, self.n_001), float(self.x0))

    @property
    def end_uptake(self) -> np.ndarray:
        """Time integral of the reaction flux at each channel end (2, n_001), L_ref (ground
        truth)."""
        return (self._wall_uptake * (self._wall_signs / (2 * self.h))).reshape(2, self.n_001)

    @property
    def mean_fraction(self) -> float:
        """Particle-averaged Li fraction."""
        return float(self.c.ravel().dot(self._ones)) / self._ones.size

    def chemical_potential(self) -> np.ndarray:
        """Diffusional chemical potential of every pixel, kT."""
        return self._potential(1.0 - self.c)

    def _potential(self, vacancy: np.ndarray) -> np.ndarray:
        """Chemical potential (kT), given the vacancy fraction ``1 - c``: ideal mixing, regular
        solution, gradient energy, and coherency strain against the particle's and the
        channel's mean composition."""
        c = self.c
        mu = np.divide(c, vacancy)
        np.log(mu, out=mu)
        mu += self._left.dot(c)
        mu += c.dot(self._right)
        mu += self._strain_per_total * c.ravel().dot(self._ones) + self._omega_kT
        return mu

    def surface_kinetics(self, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chemical potential (kT) and exchange rate (model units) of the (2, n_001) end pixels."""
        mu_s = mu.take(self._end_rows, axis=0)
        c_s = self.c.take(self._end_rows, axis=0)
        return mu_s, self.k0 * self._exchange_shape(c_s, np.exp(0.5 * mu_s))

    def _exchange_shape(self, c_s: np.ndarray, half_boltzmann_s: np.ndarray) -> np.ndarray:
        """Exchange rate of the end pixels per unit rate constant, ``half_boltzmann_s`` being
        exp(mu_s / 2)."""
        vacancy_s = 1.0 - c_s
        if self._butler_volmer:
            vacancy_s *= half_boltzmann_s
            return vacancy_s
        return j0_skewed_of(c_s, vacancy_s)

    def prepare(self) -> tuple[float, float]:
        """Evaluate this step's chemical potential and end rates; return the particle's summed
        insertion and extraction rate coefficients per unit volume: its reaction rate at
        electrode potential mu_e is ``insertion * u - extraction / u``, u = exp(mu_e / 2).

        Symmetric Butler-Volmer: an end's flux ``-2 j0 sinh((mu_s - mu_e) / 2)`` splits into
        ``j0 exp(-mu_s/2) u`` (insertion) minus ``j0 exp(mu_s/2) / u`` (extraction).
        """
        vacancy = 1.0 - self.c
        self._mu, self._vacancy = self._potential(vacancy), vacancy
        rates = self._wall_rates
        np.multiply(self._half_potentials, self._mu.take(self._end_rows, axis=0), out=rates)
        np.exp(rates, out=rates)  # exp(-mu_s / 2), exp(mu_s / 2)
        shape = self._exchange_shape(self.c.take(self._end_rows, axis=0), rates[1])
        shape *= self._wall_k0
        rates *= shape
        insertion, extraction = rates.reshape(2, -1).dot(self._wall_signs).tolist()
        scale = 2 * self.h**2
        return insertion / scale, extraction / scale

    def advance(self, dt: float, u: float) -> None:
        """Advance by ``dt`` (model time) after ``prepare``, at u = exp(mu_e / 2) (mu_e the
        electrode potential, kT)."""
        weights = self._wall_weights
        weights[0], weights[1] = u, -1.0 / u
        walls = weights.dot(self._wall_rates.reshape(2, -1))
        self._wall_uptake += walls * dt
        # the right-hand side, in units of 0.5 / h**2 folded into the solver
        faces, n = self._along_faces, self.n_001
        faces[:n], faces[-n:] = walls[:n], walls[n:]
        rhs = self._transport(self._mu, self.c * self._vacancy)
        dc = self._modes_010_t.dot(rhs).dot(self._modes_001)
        dc *= self._solver(dt)
        c = self.c + self._modes_010.dot(dc).dot(self._modes_001_t)
        np.maximum(c, _C_MIN, out=c)
        self.c = np.minimum(c, _C_MAX, out=c)

    def _transport(self, mu: np.ndarray, mobility: np.ndarray) -> np.ndarray:
        """2 h**2 div(M grad mu) with mobility M = c(1-c) (averaged onto the faces between
        pixels), plus the reaction flux already written into the wall faces.

        Both directions are differences of the flattened grid, n_001 apart along [010] and 1
        apart across channels; the across-channel faces that would join one row's end to the
        next row's start are zeroed by ``_across_weight``.
        """
        n = self.n_001
        mobility, mu = mobility.ravel(), mu.ravel()
        along, across = self._along_faces, self._across_faces
        np.multiply(mobility[n:] + mobility[:-n], mu[n:] - mu[:-n], out=along[n:-n])
        faces = mobility[1:] + mobility[:-1]
        faces *= self._across_weight
        np.multiply(faces, mu[1:] - mu[:-1], out=across[1:-1])
        out = along[n:] - along[:-n]
        out += across[1:] - across[:-1]
        return out.reshape(self.n_010, n)

    def _solver(self, dt: float) -> np.ndarray:
        """Cached dt / eigenvalue (n_010, n_001) of the linearly stabilised semi-implicit
        operator for this dt, I + dt M (D K - S D) (D the anisotropic diffusion, K the gradient
        energy's Laplacian, M = 1/4 the largest mobility, S the stabiliser), times the
        right-hand side's unit 0.5 / h**2: a step's change in the operator's eigenmodes is the
        right-hand side's times this."""
        if dt not in self._solvers:
            mobility = 0.25
            along_010 = self._eigen_010[:, None]
            along_001 = self._eigen_001[None, :]
            diffusion = along_010 + self.params.cross_channel_ratio * along_001
            gradient = self.kappa * (along_010 + along_001)
            self._solvers[dt] = (
                (0.5 / self.h**2)
                * dt
                / (
                    1
                    + dt * mobility * diffusion * gradient
                    - dt * mobility * self._stabiliser * diffusion
                )
            )
        return self._solvers[dt]

    def channel_current_mA_cm2(self, flux: np.ndarray) -> np.ndarray:
        """Per-channel current density (both ends, per reacting end area), mA/cm2.

        ``flux`` is a (2, n_001) end flux in model units, e.g. an ``end_uptake`` difference
        divided by the model time elapsed.
        """
        return flux.mean(axis=0) * self.params.current_density_unit_mA_cm2
