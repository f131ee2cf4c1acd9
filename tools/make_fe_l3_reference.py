"""Regenerate ``stxm_operando/physics/data/fe_l3_reference.csv`` (see PROVENANCE.md there).

The spectra are a parametric model: a linear non-resonant background, arctan L3 and L2 edge
steps and pseudo-Voigt multiplet lines, with the two main-line amplitudes of each phase solved so
that the absorption at 708.2 and 710.2 eV takes the published values.

Run: ``python tools/make_fe_l3_reference.py``
"""

from pathlib import Path

import numpy as np

ENERGY_EV = np.round(np.arange(695.0, 730.0 + 1e-9, 0.05), 3)
FE2_PEAK_EV, FE3_PEAK_EV = 708.2, 710.2
# OD(710.2)/OD(708.2) of LiFePO4 and FePO4 (Yu et al., Nat. Commun. 2018)
RATIO_LFP, RATIO_FP = 0.52, 2.14
# Peak absorption per unit thickness, 1/um (attenuation length ~100 nm at the Fe L3 white line)
LFP_PEAK_PER_UM, FP_PEAK_PER_UM = 9.0, 9.5


def pseudo_voigt(energy: np.ndarray, centre: float, fwhm: float, eta: float = 0.4) -> np.ndarray:
    """Unit-height pseudo-Voigt line."""
    x = (energy - centre) / (fwhm / 2)
    return eta / (1 + x**2) + (1 - eta) * np.exp(-np.log(2) * x**2)


def edge_steps(energy: np.ndarray) -> np.ndarray:
    """Non-resonant background plus L3 (709.5 eV) and L2 (722.5 eV) arctan steps, 1/um."""
    background = 0.9 - 0.004 * (energy - 695.0)
    l3 = 1.2 * (0.5 + np.arctan((energy - 709.5) / 0.8) / np.pi)
    l2 = 0.6 * (0.5 + np.arctan((energy - 722.5) / 0.8) / np.pi)
    return background + l3 + l2


def phase_spectrum(
    side_lines: list[tuple[float, float, float]], peak: float, ratio: float, strong_at_fe3: bool
) -> np.ndarray:
    """Solve the two main-line heights so mu(708.2), mu(710.2) hit their targets."""
    e = ENERGY_EV
    base = edge_steps(e) + sum(h * pseudo_voigt(e, c, w) for c, w, h in side_lines)
    lines = np.stack([pseudo_voigt(e, FE2_PEAK_EV, 1.1), pseudo_voigt(e, FE3_PEAK_EV, 1.3)])
    at = [int(np.argmin(abs(e - FE2_PEAK_EV))), int(np.argmin(abs(e - FE3_PEAK_EV)))]
    target = np.array([peak / ratio, peak]) if strong_at_fe3 else np.array([peak, peak * ratio])
    heights = np.linalg.solve(lines[:, at].T, target - base[at])
    return base + heights @ lines


def main() -> None:
    lfp = phase_spectrum(
        [(707.0, 1.0, 0.8), (712.6, 2.5, 0.6), (721.1, 1.6, 1.5)],
        LFP_PEAK_PER_UM,
        RATIO_LFP,
        strong_at_fe3=False,
    )
    fp = phase_spectrum(
        [(708.9, 1.0, 0.8), (712.8, 2.5, 0.7), (722.6, 1.8, 1.6)],
        FP_PEAK_PER_UM,
        RATIO_FP,
        strong_at_fe3=True,
    )
    out = Path(__file__).parents[1] / "stxm_operando/physics/data/fe_l3_reference.csv"
    header = (
        "Fe L3,2-edge absorption per unit thickness of LiFePO4 and FePO4, 1/um.\n"
        "Parametric model, see PROVENANCE.md; regenerate with tools/make_fe_l3_reference.py\n"
        "energy_eV,mu_LiFePO4_per_um,mu_FePO4_per_um"
    )
    np.savetxt(out, np.column_stack([ENERGY_EV, lfp, fp]), fmt="%.4f", delimiter=",", header=header)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
