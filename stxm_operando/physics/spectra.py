"""Fe L3 reference spectra of LiFePO4 and FePO4 (absorption per unit thickness, 1/um)."""

from dataclasses import dataclass
from importlib import resources

import numpy as np

PHASES = ("LiFePO4", "FePO4")
"""Phase order used everywhere: index 0 = LiFePO4 (Li-rich), 1 = FePO4 (Li-poor)."""


@dataclass(frozen=True)
class ReferenceSpectra:
    """Tabulated absorption per unit thickness of the two phases.

    Attributes
    ----------
    energy_eV : (n,) array
    mu_per_um : (n, 2) array, columns in ``PHASES`` order, 1/um.
    """

    energy_eV: np.ndarray
    mu_per_um: np.ndarray

    @classmethod
    def load_default(cls) -> "ReferenceSpectra":
        """Load the shipped Fe L3 spectra (see ``data/PROVENANCE.md``)."""
        path = resources.files("stxm_operando.physics") / "data" / "fe_l3_reference.csv"
        table = np.loadtxt(str(path), delimiter=",")
        return cls(energy_eV=table[:, 0], mu_per_um=table[:, 1:3])

    @property
    def energy_range(self) -> tuple[float, float]:
        """Lowest and highest tabulated energy, eV."""
        return float(self.energy_eV[0]), float(self.energy_eV[-1])

    def mu(self, energy_eV: float) -> np.ndarray:
        """Absorption of (LiFePO4, FePO4) at one energy, 1/um.

        Raises ValueError outside the tabulated range.
        """
        low, high = self.energy_range
        if not low <= energy_eV <= high:
            raise ValueError(
                f"energy {energy_eV} eV is outside the reference spectra ({low}-{high} eV)"
            )
        return np.array(
            [np.interp(energy_eV, self.energy_eV, self.mu_per_um[:, j]) for j in range(2)]
        )

    def mu_matrix(self, energies_eV) -> np.ndarray:
        """Matrix ``mu[i][j]`` of phase j at energy i, 1/um, as ``analysis`` expects."""
        return np.array([self.mu(e) for e in energies_eV])
