"""The paper's figures from the particle model: Koo et al., Energy Environ. Sci. 2023, 16, 3302.

Runs one simulated platelet (10 x 25 px of 40 nm) galvanostatically from an empty (lithiation)
or full (delithiation) start at 0.1-7C, several seeds, and reads what the paper plots: the
capacity to the voltage cutoff (Fig. 1b), the overpotential at SoC 0.5 against the paper's
reference and its lithiation / delithiation ratio (Fig. 1c), the spread of channel
compositions and of channel currents at ~0.15C (Figs. 3a, 4a), exchange currents against
surface composition (Fig. 4b), surface and internal composition and the active / transformed
surface at SoC 0.5 (Figs. 5b, 5c), and the surface phases after an hour of rest. The model's
maps go through the project's own ``analysis`` functions (channels, statistics, Butler-Volmer
inversion, the skewed j0 fit, overpotential), as measured images would.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import analysis as an
from .physics.constants import REFERENCE_OCV_V
from .physics.electrode import Electrode
from .physics.particle import PlateletModel

CAPACITY_AH = 1e-6
SHAPE = (10, 25)  # pixels along [010] (channel length) and [001] (channels)
CUTOFF_V = {"lithiation": 3.0, "delithiation": 3.9}
PLATEAU_SOC = (0.2, 0.8)
REST_S = 3600.0
SLOW_C_RATE = 0.15

PAPER = {
    "x_surf_4C": {"lithiation": 0.64, "delithiation": 0.41},  # Fig. 5b, SoC 0.5
    "active_4C": 0.90,  # Fig. 5c, both directions
    "transformed_4C": 0.10,
    "j0_max_x": 0.25,  # Fig. 4b (Lim 2016 form)
}


@dataclass
class Run:
    """One galvanostatic run of one particle.

    Attributes
    ----------
    c_rate : C-rate, 1/h (positive lithiates).
    seed : the particle's rate-heterogeneity seed.
    voltage_half_V : cell voltage at SoC 0.5, V.
    plateau_V : mean voltage over SoC 0.2-0.8 (``PLATEAU_SOC``), V.
    capacity_to_cutoff : fraction of the capacity passed before the cutoff (``CUTOFF_V``).
    fraction_half : Li fraction map at SoC 0.5, (010 index, 001 index).
    j_ch_half : channel current densities around SoC 0.5, mA/cm2.
    surface_j0_half : exchange rate of each end pixel at SoC 0.5 (model units, truth).
    end_flux_half : reaction flux of each end pixel at SoC 0.5 (model units, truth).
    fraction_rested : map after ``REST_S`` at open circuit from SoC 0.5 (when asked).
    """

    c_rate: float
    seed: int
    voltage_half_V: float = np.nan
    plateau_V: float = np.nan
    capacity_to_cutoff: float = np.nan
    fraction_half: np.ndarray = field(default=None, repr=False)
    j_ch_half: np.ndarray = field(default=None, repr=False)
    surface_j0_half: np.ndarray = field(default=None, repr=False)
    end_flux_half: np.ndarray = field(default=None, repr=False)
    fraction_rested: np.ndarray | None = field(default=None, repr=False)

    @property
    def direction(self) -> str:
        return "lithiation" if self.c_rate > 0 else "delithiation"

    def statistics(self, fraction: np.ndarray | None = None) -> an.SurfaceStatistics:
        """The analysis's surface statistics of a model map (SoC 0.5 by default)."""
        return model_statistics(
            self.fraction_half if fraction is None else fraction, self.direction
        )


def model_statistics(fraction: np.ndarray, direction: str) -> an.SurfaceStatistics:
    """The surface statistics of a model's Li fraction grid (axis 0 along [010], axis 1 along
    [001], every cell in the particle): the truth that an image of the particle estimates."""
    mask = np.ones(fraction.shape, bool)
    chans = an.channels(mask, an.particle_axes(mask, angle_deg=0.0))
    return an.surface_statistics(fraction, mask, chans, direction)


def galvanostatic_run(
    c_rate: float, seed: int = 0, *, rest_at_half: bool = False, to_cutoff: bool = True
) -> Run:
    """Drive a fresh particle at ``c_rate`` (1/h) to the cutoff; read it at SoC 0.5.

    The channel currents at SoC 0.5 are the end uptake from SoC 0.48 to 0.5 over that time.
    With ``rest_at_half`` the particle then rests ``REST_S`` at open circuit and the run
    ends; without ``to_cutoff`` it ends at SoC 0.5.
    """
    lithiating = c_rate > 0
    particle = PlateletModel(*SHAPE, seed=seed, x0=0.02 if lithiating else 0.98)
    electrode = Electrode([particle], CAPACITY_AH)
    current, run = c_rate * CAPACITY_AH, Run(c_rate, seed)
    dt, cutoff = electrode.step_s(current), CUTOFF_V[run.direction]

    def soc() -> float:
        return electrode.mean_fraction if lithiating else 1 - electrode.mean_fraction

    plateau, window_start, window_s = [], None, 0.0
    while soc() < 0.99:
        reading = electrode.step(dt, current_A=current)
        if PLATEAU_SOC[0] <= soc() <= PLATEAU_SOC[1]:
            plateau.append(reading.voltage_V)
        crossed = reading.voltage_V < cutoff if lithiating else reading.voltage_V > cutoff
        if crossed and np.isnan(run.capacity_to_cutoff):
            run.capacity_to_cutoff = soc() - 0.02
        if run.fraction_half is not None:
            continue
        if window_start is None:
            if soc() >= 0.48:
                window_start = particle.end_uptake.copy()
            continue
        window_s += dt
        if soc() < 0.5:
            continue
        flux = (particle.end_uptake - window_start) / (window_s / particle.params.time_unit_s)
        run.voltage_half_V, run.fraction_half = reading.voltage_V, particle.c.copy()
        run.j_ch_half, run.end_flux_half = particle.channel_current_mA_cm2(flux), flux
        run.surface_j0_half = particle.surface_kinetics(particle.chemical_potential())[1]
        if rest_at_half:
            for _ in range(int(REST_S / 10.0)):
                electrode.step(10.0, current_A=0.0)
            run.fraction_rested = particle.c.copy()
        if rest_at_half or not to_cutoff:
            return run
    run.plateau_V = float(np.mean(plateau))
    if np.isnan(run.capacity_to_cutoff):
        run.capacity_to_cutoff = soc() - 0.02
    return run


def reference_voltage(seeds: Sequence[int] = (0, 1, 2)) -> float:
    """The middle of the model's 0.2C lithiation and delithiation plateaus, V (the paper's
    definition of its 3.428 V reference)."""
    plateaus = [galvanostatic_run(rate, seed).plateau_V for seed in seeds for rate in (0.2, -0.2)]
    return float(np.mean(plateaus))


def overpotential_ratio(runs: Sequence[Run]) -> float:
    """|eta_lith| / |eta_delith| at SoC 0.5, means over the runs of each direction."""
    eta = {d: [] for d in ("lithiation", "delithiation")}
    for run in runs:
        eta[run.direction].append(an.overpotential(run.voltage_half_V, REFERENCE_OCV_V))
    return float(abs(np.mean(eta["lithiation"])) / abs(np.mean(eta["delithiation"])))


def current_weighted_j0(run: Run) -> float:
    """Mean exchange rate of the reacting surface, weighted by each end's |flux| (truth)."""
    weights = np.abs(run.end_flux_half)
    return float((run.surface_j0_half * weights).sum() / weights.sum())


def channel_spread(run: Run) -> float:
    """Standard deviation of the channel-mean Li fraction at SoC 0.5 (Fig. 3a)."""
    return float(run.fraction_half.mean(axis=0).std())


def j0_points(runs: Sequence[Run]) -> tuple[np.ndarray, np.ndarray]:
    """(x_surf, j0) per channel from the analysis's Butler-Volmer inversion (Fig. 4b)."""
    xs, j0s = [], []
    for run in runs:
        eta = an.overpotential(run.voltage_half_V, REFERENCE_OCV_V)
        xs.append(run.fraction_half[[0, -1]].mean(axis=0))
        j0s.append(an.exchange_current_butler_volmer(run.j_ch_half, eta))
    return np.concatenate(xs), np.concatenate(j0s)


def sweep(
    rates: Sequence[float] = (0.15, 0.5, 1.0, 2.0, 4.0, 7.0), seeds: Sequence[int] = (0, 1, 2)
) -> dict[float, list[Run]]:
    """Runs at each C-rate, both directions and every seed."""
    return {
        rate: [galvanostatic_run(sign * rate, seed) for seed in seeds for sign in (1, -1)]
        for rate in rates
    }


def _by_direction(runs: Sequence[Run], direction: str) -> list[Run]:
    return [run for run in runs if run.direction == direction]


def tables(runs: dict[float, list[Run]], rested: Sequence[Run], reference_V: float) -> str:
    """The paper's tables, model beside paper."""
    lines = [
        f"Reference: middle of the model's 0.2C plateaus {reference_V:.4f} V "
        f"(paper: {REFERENCE_OCV_V} V, its own 0.2C midpoint)",
        "",
        "Fig. 1b/1c: capacity to cutoff and overpotential at SoC 0.5 (paper: |eta| grows much",
        "faster on lithiation; ratio > 1 and rising with rate)",
        f"{'C-rate':>6} {'cap lith':>9} {'cap delith':>10} {'eta lith mV':>12} "
        f"{'eta delith mV':>14} {'ratio':>6}",
    ]
    for rate, group in runs.items():
        lith, delith = _by_direction(group, "lithiation"), _by_direction(group, "delithiation")
        eta = [
            1e3 * np.mean([an.overpotential(r.voltage_half_V, REFERENCE_OCV_V) for r in g])
            for g in (lith, delith)
        ]
        lines.append(
            f"{rate:6.2f} {np.mean([r.capacity_to_cutoff for r in lith]):9.2f} "
            f"{np.mean([r.capacity_to_cutoff for r in delith]):10.2f} {eta[0]:12.1f} "
            f"{eta[1]:14.1f} {overpotential_ratio(group):6.2f}"
        )
    slow = runs[min(runs)]
    lines += [
        "",
        f"Figs. 3a/4a at {min(runs)}C, SoC 0.5 (paper: delithiation channel by channel, "
        "lithiation uniform)",
        f"{'direction':>13} {'channel spread':>15} {'j_Ch CV':>8} {'active':>7}",
    ]
    for direction in ("lithiation", "delithiation"):
        group = _by_direction(slow, direction)
        cv = np.mean([r.j_ch_half.std() / abs(r.j_ch_half.mean()) for r in group])
        active = np.mean([r.statistics().active_fraction for r in group])
        spread = np.mean([channel_spread(r) for r in group])
        lines.append(f"{direction:>13} {spread:15.3f} {cv:8.2f} {active:7.2f}")
    fast = [r for rate, group in runs.items() if rate >= 1.0 for r in group]
    fit = an.fit_j0(*j0_points(fast))
    lines += [
        "",
        "Fig. 4b: j0 against x_surf, Butler-Volmer inversion of every channel at >= 1C",
        f"  fit A x^a (1-x)^b: a = {fit.a:.2f} +- {fit.stderr[1]:.2f}, "
        f"b = {fit.b:.2f} +- {fit.stderr[2]:.2f}, max at x = {fit.x_max:.2f} "
        f"(paper, Lim 2016: a = 0.5, b = 1.5, max at {PAPER['j0_max_x']})",
        "",
        "Figs. 5b/5c at 4C, SoC 0.5",
        f"{'direction':>13} {'<x_surf>':>9} {'paper':>6} {'<x_int>':>8} {'active':>7} "
        f"{'transformed':>12} {'j0 weighted':>12}",
    ]
    for direction in ("lithiation", "delithiation"):
        group = _by_direction(runs[4.0], direction)
        stats = [r.statistics() for r in group]
        lines.append(
            f"{direction:>13} {np.mean([s.mean_surface for s in stats]):9.3f} "
            f"{PAPER['x_surf_4C'][direction]:6.2f} "
            f"{np.mean([s.mean_internal for s in stats]):8.3f} "
            f"{np.mean([s.active_fraction for s in stats]):7.2f} "
            f"{np.mean([s.transformed_fraction for s in stats]):12.2f} "
            f"{np.mean([current_weighted_j0(r) for r in group]):12.4f}"
        )
    lines += [
        f"  (paper: ~{PAPER['active_4C']:.0%} active, ~{PAPER['transformed_4C']:.0%} "
        "transformed in both directions)",
        "",
        f"Persistence: x_surf - x_int at 4C, SoC 0.5, then after {REST_S / 60:.0f} min at rest "
        "(paper: the surface phases persist after an hour)",
    ]
    for run in rested:
        before, after = run.statistics(), run.statistics(run.fraction_rested)
        lines.append(
            f"{run.direction:>13} {before.mean_surface - before.mean_internal:+.3f} -> "
            f"{after.mean_surface - after.mean_internal:+.3f}"
        )
    return "\n".join(lines)


def main(output: str | Path = "paper-output", seeds: Sequence[int] = (0, 1, 2)) -> str:
    """Run the sweep, print the tables and save ``paper.png`` under ``output``."""
    from .gui.figures import output_folder, save_paper_figure

    output = output_folder(output)  # before the sweep: the figure will have a place
    runs = sweep(seeds=seeds)
    rested = [galvanostatic_run(rate, 0, rest_at_half=True) for rate in (4.0, -4.0)]
    text = tables(runs, rested, reference_voltage(seeds))
    print(text)
    fast = [r for rate, group in runs.items() if rate >= 1.0 for r in group]
    ratios = {rate: overpotential_ratio(group) for rate, group in runs.items()}
    save_paper_figure(runs, ratios, j0_points(fast), output / "paper.png")
    print(f"figure: {output / 'paper.png'}")
    return text
