"""An electrode of platelet particles sharing one electrode potential.

Galvanostatic control fixes the total reaction rate and solves the common potential in closed
form (symmetric Butler-Volmer); potentiostatic control fixes the potential. Positive current
lithiates the LiFePO4 (discharge of the cathode); the cell voltage is
``V = V0 - (kT/e) mu_e`` with ``V0 = OCV_PLATEAU_V``.
"""

import math
from dataclasses import dataclass

from .constants import OCV_PLATEAU_V, ROOM_TEMPERATURE_K, thermal_voltage
from .particle import PlateletModel

_MU_E_LIMIT_KT = 60.0  # |mu_e| never exceeds this (~1.5 V of overpotential)
NEWTON_ITERATIONS = 6


@dataclass(frozen=True)
class ElectrodeReading:
    """Current (A, positive = lithiation) and cell voltage (V vs Li) after a step."""

    current_A: float
    voltage_V: float


class Electrode:
    """Particles of one electrode, its capacity and its voltage.

    Parameters
    ----------
    particles : the simulated particles; they stand for the whole electrode.
    capacity_Ah : electrode capacity, Ah; converts currents to C-rates.
    temperature_K : cell temperature, K.
    max_step : largest time step, s.
    step_per_rate : largest change of state of charge in one step: at high rate the step
        shrinks as ``step_per_rate / |C-rate per s|``.
    """

    def __init__(
        self,
        particles: list[PlateletModel],
        capacity_Ah: float,
        temperature_K: float = ROOM_TEMPERATURE_K,
        max_step: float = 5.0,
        step_per_rate: float = 5e-4,
    ) -> None:
        if not particles:
            raise ValueError("an electrode needs at least one particle")
        if not capacity_Ah > 0:
            raise ValueError(f"capacity must be positive, got {capacity_Ah} Ah")
        self.particles = particles
        self.capacity_Ah = capacity_Ah
        self.kT_e = thermal_voltage(temperature_K)
        self.max_step, self.step_per_rate = max_step, step_per_rate
        self._n_pixels = sum(p.sites for p in particles)
        self.mu_e = self._galvanostatic_potential(*self._prepare(), 0.0)

    @property
    def mean_fraction(self) -> float:
        """Pixel-averaged Li fraction of all particles (state of charge on lithiation)."""
        return sum(p.mean_fraction * p.sites for p in self.particles) / self._n_pixels

    def c_rate(self, current_A: float) -> float:
        """C-rate of a current, 1/h (positive = lithiation)."""
        return current_A / self.capacity_Ah

    def voltage(self, mu_e: float | None = None) -> float:
        """Cell voltage at electrode potential ``mu_e`` (kT), V."""
        return OCV_PLATEAU_V - self.kT_e * (self.mu_e if mu_e is None else mu_e)

    def _rate_from_current(self, current_A: float) -> float:
        return self.c_rate(current_A) / 3600.0

    def _current_from_rate(self, rate: float) -> float:
        return rate * 3600.0 * self.capacity_Ah

    def step_s(self, current_A: float) -> float:
        """Stable, accurate step for this current, s; one of a few cached power-of-two levels."""
        rate = abs(self._rate_from_current(current_A))
        level = max(0, math.ceil(math.log2(max(rate * self.max_step / self.step_per_rate, 1.0))))
        return self.max_step / 2**level

    def step(
        self, dt_s: float, *, current_A: float | None = None, voltage_V: float | None = None
    ) -> ElectrodeReading:
        """Advance all particles by ``dt_s`` at a fixed current or a fixed voltage.

        Exactly one of ``current_A`` (galvanostatic; 0 is open circuit) and ``voltage_V``
        (potentiostatic) must be given.
        """
        if (current_A is None) == (voltage_V is None):
            raise ValueError("give exactly one of current_A and voltage_V")
        insertion, extraction = self._prepare()
        if voltage_V is not None:
            self.mu_e = (OCV_PLATEAU_V - voltage_V) / self.kT_e
        else:
            start = self._galvanostatic_potential(insertion, extraction, current_A)
            demand = self._rate_from_current(current_A) * self._n_pixels
            self.mu_e = self._refined_potential(dt_s, start, demand)
        total = self._reaction(dt_s, self.mu_e)[0]
        u = math.exp(0.5 * self.mu_e)
        for particle in self.particles:
            particle.advance(dt_s, u)
        delivered = self._current_from_rate(total / self._n_pixels)
        if current_A is not None and math.isclose(
            delivered, current_A, rel_tol=1e-6, abs_tol=1e-15
        ):
            delivered = current_A  # the set current, to the solve's precision (0 at rest)
        return ElectrodeReading(current_A=delivered, voltage_V=self.voltage())

    def _reaction(self, dt_s: float, mu_e: float) -> tuple[float, float]:
        """Summed reaction of the particles' step at electrode potential ``mu_e`` (kT),
        pixels of Li fraction per s, and its derivative in mu_e."""
        u, total, slope = math.exp(0.5 * mu_e), 0.0, 0.0
        for particle in self.particles:
            reaction, _, derivative = particle.layer_step(dt_s, u)
            total += float(reaction.sum()) / particle.pixel_nm
            slope += float(derivative.sum()) / particle.pixel_nm
        return total, slope

    def _refined_potential(self, dt_s: float, mu_e: float, demand: float) -> float:
        """The electrode potential (kT) at which the particles' implicit step delivers
        ``demand``, by Newton's method from the explicit rates' root ``mu_e``: the delivered
        current then matches the set one also where a surface layer saturates in the step."""
        for _ in range(NEWTON_ITERATIONS):
            total, slope = self._reaction(dt_s, mu_e)
            miss = total - demand
            if abs(miss) <= 1e-9 * max(abs(demand), 1e-12) or slope <= 0:
                break
            mu_e = min(max(mu_e - miss / slope, -_MU_E_LIMIT_KT), _MU_E_LIMIT_KT)
        return mu_e

    def _prepare(self) -> tuple[float, float]:
        """Prepare every particle's step; their summed insertion and extraction rates."""
        insertion = extraction = 0.0
        for particle in self.particles:
            forward, backward = particle.prepare()
            insertion += forward
            extraction += backward
        return insertion, extraction

    def _galvanostatic_potential(
        self, insertion: float, extraction: float, current_A: float
    ) -> float:
        """Electrode potential (kT) at which the particles' summed rate coefficients
        (``PlateletModel.prepare``) deliver ``current_A``: the root u = exp(mu_e / 2) of
        ``insertion u - extraction / u = demand``."""
        demand = self._rate_from_current(current_A) * self._n_pixels
        u = (demand + math.sqrt(demand**2 + 4 * insertion * extraction)) / (2 * insertion)
        return min(max(2 * math.log(u), -_MU_E_LIMIT_KT), _MU_E_LIMIT_KT)
