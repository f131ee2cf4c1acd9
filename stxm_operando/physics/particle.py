"""Surface-reaction-limited model of one [100]-oriented LiFePO4 platelet (see ``MODEL.md``).

The platelet is a row of [010] channels side by side along [001]. Li enters and leaves each
channel only through the thin surface layers at its two (010) ends (Butler-Volmer, with the
exchange current the paper measured against surface composition). Along a channel Li moves
at D[010] ~ 1e-9 cm2/s, so a channel's bulk equilibrates in milliseconds and is one
composition; across channels it moves at D[001] ~ 1e-14 cm2/s (Cahn-Hilliard, regular
solution with gradient energy and coherency strain). The surface layers have the full
miscibility gap that coherency strain suppresses in the bulk: Li-rich and Li-poor surface
phases form under current and stay at open circuit. Time is in s, lengths in nm.
"""

from dataclasses import dataclass, field

import numpy as np

from .constants import FARADAY_C_MOL, LFP_SITE_DENSITY_MOL_CM3
from .kinetics import j0_skewed_of

J0_FORMS = ("bv", "lim")
MAX_LAYER_SHARE = 0.9
"""The thickest surface layer, as a share of the end pixel."""
_C_MIN, _C_MAX = 1e-5, 1 - 1e-5
NM2_PER_CM2 = 1e14
MA_CM2_PER_NM_S = FARADAY_C_MOL * LFP_SITE_DENSITY_MOL_CM3 * 1e-7 * 1e3
"""Current density (mA/cm2) of a Li flux of 1 nm/s of fully lithiated LiFePO4."""


@dataclass(frozen=True)
class PlateletParameters:
    """Material parameters of the platelet model, with the literature they come from.

    Attributes
    ----------
    omega_kT : regular-solution interaction, kT (4.5 kT, Bai, Cogswell & Bazant, Nano Lett.
        2011).
    coherency_kT : coherency strain against the particle's mean composition, kT: it
        suppresses phase separation of the bulk, channel against channel (Cogswell & Bazant,
        ACS Nano 2012).
    diffusivity_cm2_s : D along [010], cm2/s (~1e-9; Morgan, Van der Ven & Ceder 2004). It
        makes each channel's bulk one composition; it enters only the (negligible) bulk part
        of the layer-to-bulk resistance.
    cross_diffusivity_cm2_s : D across channels, along [001], cm2/s (~1e-14).
    surface_diffusivity_cm2_s : D through the surface layer, cm2/s: Fe-Li antisite defects,
        most common near surfaces, block [010] channels (Malik, Burch, Bazant & Ceder, Nano
        Lett. 2010), so Li crosses the layer slowly and a layer fed faster than it drains
        transforms: the paper's dynamic surface phase.
    exchange_current_mA_cm2 : peak exchange current density of the surface reaction, mA/cm2
        (reached at x = 0.25 with the "lim" form; 1e-3-1e-1 mA/cm2 in Bai & Bazant, Nat.
        Commun. 2014; Lim et al., Science 2016).
    rate_spread : log-normal sigma of the exchange current over channel ends (seeded).
    j0_form : "lim" (default) for the exchange current the paper measured against surface
        composition (Koo et al. 2023, Fig. 4b; Lim et al., Science 2016):
        ``(1-x) sqrt(x (1-x))``, peaked at x = 0.25: a Li-poor surface reacts fast
        (autocatalytic delithiation), a Li-rich one slowly (autoinhibitory lithiation);
        "bv" for ``(1-x) exp(mu/2)`` (Bazant 2013).
    interface_width_px : width of a phase boundary between channels, pixels (gradient
        energy kappa = omega (width * pixel)**2).
    surface_layer_nm : median thickness of the (010) surface layer at a channel end, nm; it
        is part of the end pixel, which an image sees as the layer and the bulk behind it.
    surface_layer_spread : log-normal sigma of the layer's thickness over channel ends
        (seeded; at most ``MAX_LAYER_SHARE`` of a pixel). The antisite defects that make the
        layer sit at random (Malik et al. 2010), so its depth varies from face to face; where
        a layer is thick, its transformed phase fills most of the end pixel, which then reads
        as a transformed surface pixel (the paper's Fig. 5c: ~10 % at 4C in both directions).
    surface_strain_fraction : share of the coherency strain the surface layer keeps (0: the
        free surface relaxes it, and the layer keeps its full miscibility gap).
    surface_omega_kT : regular-solution interaction of the surface layer, kT (default the
        bulk's 4.5 kT). A layer a few nm thick may have a narrower miscibility gap than the
        bulk (size-dependent gap: Meethong et al., Electrochem. Solid-State Lett. 2007; Burch
        & Bazant, Nano Lett. 2009): 3.7 kT puts its binodals at 0.03 / 0.97 and its spinodal
        barrier at 0.86 kT instead of 1.42 kT. Tried and not adopted (``MODEL.md``).
    """

    omega_kT: float = 4.5
    coherency_kT: float = 3.5
    diffusivity_cm2_s: float = 1e-9
    cross_diffusivity_cm2_s: float = 3e-14
    surface_diffusivity_cm2_s: float = 2e-13
    exchange_current_mA_cm2: float = 0.035
    rate_spread: float = 0.15
    j0_form: str = "lim"
    interface_width_px: float = 1.0
    surface_layer_nm: float = 11.0
    surface_layer_spread: float = 0.8
    surface_strain_fraction: float = 0.15
    surface_omega_kT: float = 4.5

    def __post_init__(self) -> None:
        if self.j0_form not in J0_FORMS:
            raise ValueError(f"j0_form must be one of {J0_FORMS}, not {self.j0_form!r}")
        for name in (
            "omega_kT",
            "diffusivity_cm2_s",
            "cross_diffusivity_cm2_s",
            "surface_diffusivity_cm2_s",
            "exchange_current_mA_cm2",
            "interface_width_px",
            "surface_layer_nm",
            "surface_omega_kT",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("coherency_kT", "rate_spread", "surface_layer_spread"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if not 0 <= self.surface_strain_fraction <= 1:
            raise ValueError(
                f"surface_strain_fraction must be in [0, 1], got {self.surface_strain_fraction}"
            )


def _neumann_laplacian(n: int, h: float) -> np.ndarray:
    lap = np.diag(-2.0 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    lap[0, 0] = lap[-1, -1] = -1.0 if n > 1 else 0.0
    return lap / h**2


@dataclass
class PlateletModel:
    """One platelet: channel bulk compositions ``bulk[001 index]`` and surface layers
    ``layer[end, 001 index]``, Li fractions 0-1.

    Parameters
    ----------
    n_010, n_001 : pixels along [010] (channel length) and [001] (number of channels).
    pixel_nm : pixel size, nm.
    params : material parameters.
    seed : seeds the exchange-current heterogeneity over channel ends.
    x0 : initial Li fraction.
    """

    n_010: int
    n_001: int
    pixel_nm: float = 40.0
    params: PlateletParameters = field(default_factory=PlateletParameters)
    seed: int = 0
    x0: float = 0.02
    bulk: np.ndarray = field(init=False, repr=False)
    layer: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        p = self.params
        if self.n_010 < 3 or self.n_001 < 1:
            raise ValueError("a platelet needs at least 3 pixels along [010] and 1 channel")
        if not 0 < self.x0 < 1:
            raise ValueError(f"x0 must be inside (0, 1), got {self.x0}")
        if not p.surface_layer_nm < self.pixel_nm:
            raise ValueError(
                f"surface_layer_nm ({p.surface_layer_nm}) must be thinner than a pixel "
                f"({self.pixel_nm} nm)"
            )
        h = self.pixel_nm
        rng = np.random.default_rng(self.seed)
        peak_nm_s = p.exchange_current_mA_cm2 / MA_CM2_PER_NM_S
        self.k0 = peak_nm_s * np.exp(p.rate_spread * rng.standard_normal((2, self.n_001)))
        spread = np.exp(p.surface_layer_spread * rng.standard_normal((2, self.n_001)))
        ell = np.minimum(p.surface_layer_nm * spread, MAX_LAYER_SHARE * h)
        self._ell = ell  # nm, each end's layer
        self._share = ell / h  # the layer's part of the end pixel
        self._bulk_length = self.n_010 * h - ell.sum(axis=0)  # nm of bulk per channel
        self._butler_volmer = p.j0_form == "bv"
        # from the layer's middle to the bulk behind it: s/nm of resistance per unit mobility
        self._resistance = ell / (2 * p.surface_diffusivity_cm2_s * NM2_PER_CM2) + h / (
            2 * p.diffusivity_cm2_s * NM2_PER_CM2
        )
        self._cross_d = p.cross_diffusivity_cm2_s * NM2_PER_CM2  # nm2/s
        self.kappa = p.omega_kT * (p.interface_width_px * h) ** 2  # kT nm2
        lap = _neumann_laplacian(self.n_001, h)
        self._gradient = -self.kappa * lap
        self._eigen, self._modes = np.linalg.eigh(lap)
        self._stabiliser = 2 * p.omega_kT
        self._solvers: dict[float, np.ndarray] = {}
        self._rates = np.empty((2, 2, self.n_001))  # (insertion, extraction), end, channel
        self._uptake = np.zeros((2, self.n_001))
        self.bulk = np.full(self.n_001, float(self.x0))
        self.layer = np.full((2, self.n_001), float(self.x0))
        self.steps = 0

    @property
    def end_uptake(self) -> np.ndarray:
        """Time integral of the reaction flux through each channel end (2, n_001), nm of
        fully lithiated LiFePO4 (ground truth)."""
        return self._uptake.copy()

    @property
    def layer_nm(self) -> np.ndarray:
        """Thickness of each (2, n_001) channel end's surface layer, nm (ground truth)."""
        return self._ell.copy()

    @property
    def sites(self) -> int:
        """Pixels of the particle."""
        return self.n_010 * self.n_001

    @property
    def mean_fraction(self) -> float:
        """Particle-averaged Li fraction."""
        total = self._bulk_length.dot(self.bulk) + (self._ell * self.layer).sum()
        return float(total) / (self.n_001 * self.n_010 * self.pixel_nm)

    def fraction_map(self) -> np.ndarray:
        """Li fraction of each pixel as an image sees it (n_010, n_001): a channel's bulk
        in every pixel, and in its end pixels the surface layer and the bulk behind it."""
        seen = np.repeat(self.bulk[None, :], self.n_010, axis=0)
        seen[[0, -1]] = self._surface_seen()
        return seen

    def _surface_seen(self) -> np.ndarray:
        return self._share * self.layer + (1 - self._share) * self.bulk

    def bulk_potential(self) -> np.ndarray:
        """Chemical potential of each channel's bulk, kT: ideal mixing, regular solution,
        gradient energy across channels, coherency strain."""
        p, x = self.params, self.bulk
        mu = np.log(x / (1.0 - x)) + p.omega_kT * (1.0 - 2.0 * x)
        mu += self._gradient.dot(x) + p.coherency_kT * (x - x.mean())
        return mu

    def layer_potential(self) -> np.ndarray:
        """Chemical potential of the (2, n_001) surface layers, kT: ideal mixing, the layer's
        own regular solution and the share of coherency strain a free surface keeps."""
        p, s = self.params, self.layer
        mu = np.log(s / (1.0 - s)) + p.surface_omega_kT * (1.0 - 2.0 * s)
        return mu + p.surface_strain_fraction * p.coherency_kT * (s - self.bulk.mean())

    def surface_exchange(self) -> np.ndarray:
        """Exchange rate of each (2, n_001) channel end now, nm/s (ground truth)."""
        return self.k0 * self._exchange_shape(np.exp(0.5 * self.layer_potential()))

    def _exchange_shape(self, half_boltzmann: np.ndarray) -> np.ndarray:
        """Exchange rate per unit rate constant of each end, ``half_boltzmann`` being
        exp(mu_s / 2): of the surface composition an image sees (the paper's x_surf)."""
        seen = self._surface_seen()
        if self._butler_volmer:
            return (1.0 - seen) * half_boltzmann
        return j0_skewed_of(seen, 1.0 - seen)

    def prepare(self) -> tuple[float, float]:
        """Evaluate this step's potentials and surface rates; return the particle's summed
        insertion and extraction rate coefficients (pixels of Li fraction per s): its
        reaction rate at electrode potential mu_e is ``insertion * u - extraction / u``,
        u = exp(mu_e / 2).

        Symmetric Butler-Volmer at each surface layer: its flux
        ``-2 j0 sinh((mu_s - mu_e) / 2)`` splits into ``j0 exp(-mu_s/2) u`` (insertion) minus
        ``j0 exp(mu_s/2) / u`` (extraction).
        """
        self._mu_bulk, self._mu_layer = self.bulk_potential(), self.layer_potential()
        rates = self._rates
        np.exp(-0.5 * self._mu_layer, out=rates[0])
        np.exp(0.5 * self._mu_layer, out=rates[1])
        rates *= self.k0 * self._exchange_shape(rates[1])
        insertion, extraction = rates.reshape(2, -1).sum(axis=1).tolist()
        return insertion / self.pixel_nm, extraction / self.pixel_nm

    def layer_step(self, dt: float, u: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This step's reaction into each surface layer (nm/s), the layers' change, and the
        reaction's derivative in mu_e (nm/s per kT), at u = exp(mu_e / 2), after ``prepare``;
        nothing is changed.

        The step is implicit in each layer's composition (reaction and passing to the bulk
        linearised in it, ideal mixing's stiffness included), so a thin, nearly full or
        empty layer never overshoots.
        """
        layer = self.layer
        stiffness = 1.0 / (layer * (1.0 - layer))
        insertion, extraction = self._rates[0] * u, self._rates[1] / u
        explicit = insertion - extraction
        slope = -0.5 * (insertion + extraction) * stiffness  # d reaction / d layer
        conductance = self._conductance(dt)
        numerator = explicit - conductance * (self._mu_layer - self._mu_bulk)
        denominator = self._ell / dt - slope + conductance * stiffness
        free = layer + numerator / denominator
        change = np.clip(free, _C_MIN, _C_MAX) - layer
        # what the layer takes is what it keeps plus what it passes on: a layer that would
        # empty or fill within the step takes only that (the rest of the reaction cannot run)
        passed = conductance * (self._mu_layer - self._mu_bulk + stiffness * change)
        reaction = change * (self._ell / dt) + passed
        # d/d mu_e: explicit' = (insertion + extraction) / 2, slope' = -explicit stiffness / 4
        explicit_d, slope_d = 0.5 * (insertion + extraction), -0.25 * explicit * stiffness
        change_d = (explicit_d + numerator * slope_d / denominator) / denominator
        inside = (free > _C_MIN) & (free < _C_MAX)
        derivative = np.where(inside, explicit_d + slope_d * change + slope * change_d, 0.0)
        return reaction, change, derivative

    def _conductance(self, dt: float) -> np.ndarray:
        """Layer-to-bulk conductance (nm/s per kT), the bulk's ideal-mixing stiffness taken
        implicitly."""
        layer, bulk = self.layer, self.bulk
        mobility = 0.5 * (layer * (1.0 - layer) + bulk * (1.0 - bulk))
        conductance = mobility / self._resistance
        return conductance / (1 + conductance * dt / (bulk * (1.0 - bulk) * self._bulk_length))

    def advance(self, dt: float, u: float) -> None:
        """Advance by ``dt`` (s) after ``prepare``, at u = exp(mu_e / 2) (mu_e the electrode
        potential, kT): the reaction feeds the surface layers (``layer_step``), the bulk
        takes exactly what the layers pass, and across channels the bulk diffuses
        (Cahn-Hilliard, linearly stabilised semi-implicit step on each channel's Li amount,
        so that Li is conserved between channels of different bulk length)."""
        reaction, change, _ = self.layer_step(dt, u)
        passed = reaction - change * (self._ell / dt)
        self._uptake += reaction * dt
        self.layer = self.layer + change
        bulk = self.bulk
        rhs = passed.sum(axis=0) + self._cross_flow(bulk)  # nm of Li fraction per s
        change = self._modes.dot(self._solver(dt) * self._modes.T.dot(rhs)) / self._bulk_length
        self.bulk = np.clip(bulk + change, _C_MIN, _C_MAX)
        self.steps += 1

    def _cross_flow(self, x: np.ndarray) -> np.ndarray:
        """div(D M grad mu) across channels times each channel's bulk length, nm/s, mobility
        M = x(1-x) and the two channels' mean bulk length on the faces."""
        faces = 0.5 * (x[1:] * (1 - x[1:]) + x[:-1] * (1 - x[:-1]))
        faces *= 0.5 * (self._bulk_length[1:] + self._bulk_length[:-1])
        flux = np.zeros(self.n_001 + 1)
        flux[1:-1] = self._cross_d * faces * np.diff(self._mu_bulk) / self.pixel_nm
        return np.diff(flux) / self.pixel_nm

    def _solver(self, dt: float) -> np.ndarray:
        """Cached dt / (1 + dt D M (kappa lambda**2 - S lambda)) for each eigenmode (lambda
        the Laplacian's eigenvalue, M = 1/4 the largest mobility, S the stabiliser)."""
        if dt not in self._solvers:
            lam = self._eigen
            self._solvers[dt] = dt / (
                1 + dt * self._cross_d * 0.25 * (self.kappa * lam**2 - self._stabiliser * lam)
            )
        return self._solvers[dt]

    def channel_current_mA_cm2(self, flux: np.ndarray) -> np.ndarray:
        """Per-channel current density (both ends, per reacting end area), mA/cm2, of a
        (2, n_001) end flux in nm/s, e.g. an ``end_uptake`` difference over the time."""
        return flux.mean(axis=0) * MA_CM2_PER_NM_S
