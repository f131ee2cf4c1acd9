"""The paper's figures from the particle model: Koo et al., Energy Environ. Sci. 2023, 16, 3302.

Runs one simulated platelet (10 x 25 px of 40 nm) galvanostatically from an empty (lithiation)
or full (delithiation) start at 0.15-7C, several seeds, and reads what the paper plots: the
voltage against capacity and the capacity to the cutoff (Fig. 1b), the overpotential at SoC 0.5
against the middle of the model's own 0.2C plateaus (Fig. 1c), Li maps over time (Fig. 3), the
x, dx/dt and j_Ch of the channels at 0.15C (Fig. 4a), exchange currents against surface
composition (Fig. 4b), maps, surface and internal composition and the active / transformed
surface at SoC 0.5 (Fig. 5), and the surface phases through an hour at rest (Fig. S8a). The
model's maps go through the project's own ``analysis`` functions (channels, dx/dt, j_Ch,
statistics, Butler-Volmer inversion, the skewed j0 fit), as measured images would.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import analysis as an
from ..physics.constants import REFERENCE_OCV_V
from ..physics.electrode import Electrode
from ..physics.particle import PlateletModel, PlateletParameters

CAPACITY_AH = 1e-6
SHAPE = (10, 25)  # pixels along [010] (channel length) and [001] (channels)
PIXEL_NM = 40.0
CUTOFF_V = {"lithiation": 3.0, "delithiation": 3.9}
PLATEAU_SOC = (0.2, 0.8)
RATES = (0.15, 0.2, 0.5, 1.0, 2.0, 4.0, 7.0)
REFERENCE_C_RATE = 0.2  # the paper's reference: the middle of its 0.2C plateaus
MAP_SOCS = (0.25, 0.5, 0.75)
WINDOW_SOC = (0.48, 0.5)  # dx/dt and j_Ch between these states of charge
REST_S, REST_SAMPLE_S = 3600.0, 60.0
DIRECTIONS = ("lithiation", "delithiation")

PAPER = {
    "x_surf_4C": {"lithiation": 0.64, "delithiation": 0.41},  # Fig. 5b, SoC 0.5
    "active_4C": 0.90,  # Fig. 5c, both directions
    "transformed_4C": 0.10,
    "j0_at_x_surf_4C": {0.64: 0.52, 0.41: 0.87},  # Fig. 4b, Lim 2016 form, normalised
    "j0_max_x": 0.25,
    "reference_V": REFERENCE_OCV_V,
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
    curve : (state of charge, cell voltage V) along the run, (n, 2).
    maps : Li fraction map (as an image sees it) at each of ``MAP_SOCS``.
    fraction_before : map at SoC 0.48; ``fraction_half`` the map at SoC 0.5, ``window_s`` (s)
        the time between them.
    surface_j0_half : exchange rate of each channel end at SoC 0.5, nm/s (truth).
    end_flux_half : reaction flux of each channel end over the window, nm/s (truth).
    relaxation : (time at rest s, x_surf - x_int) through ``REST_S`` at open circuit from
        SoC 0.5 (when asked); ``fraction_rested`` the map at its end.
    """

    c_rate: float
    seed: int
    voltage_half_V: float = np.nan
    plateau_V: float = np.nan
    capacity_to_cutoff: float = np.nan
    curve: np.ndarray = field(default=None, repr=False)
    maps: dict = field(default_factory=dict, repr=False)
    fraction_before: np.ndarray = field(default=None, repr=False)
    fraction_half: np.ndarray = field(default=None, repr=False)
    window_s: float = np.nan
    surface_j0_half: np.ndarray = field(default=None, repr=False)
    end_flux_half: np.ndarray = field(default=None, repr=False)
    relaxation: np.ndarray | None = field(default=None, repr=False)
    fraction_rested: np.ndarray | None = field(default=None, repr=False)

    @property
    def direction(self) -> str:
        return "lithiation" if self.c_rate > 0 else "delithiation"

    def statistics(self, fraction: np.ndarray | None = None) -> an.SurfaceStatistics:
        """The analysis's surface statistics of a model map (SoC 0.5 by default)."""
        return model_statistics(
            self.fraction_half if fraction is None else fraction, self.direction
        )

    def rate_map(self) -> np.ndarray:
        """dx/dt over the SoC 0.48-0.5 window, 1/s (the analysis's ``rate_map``)."""
        return an.rate_map(self.fraction_before, self.fraction_half, self.window_s)

    def channel_currents(self) -> np.ndarray:
        """j_Ch of every channel over the window, mA/cm2 (the analysis's ``channel_current``)."""
        return an.channel_current(self.rate_map(), _channels(), PIXEL_NM)

    def surface_compositions(self) -> np.ndarray:
        """x_surf of every channel at SoC 0.5."""
        return an.surface_composition(self.fraction_half, _channels())


def _channels() -> list[an.Channel]:
    mask = np.ones(SHAPE, bool)
    return an.channels(mask, an.particle_axes(mask, angle_deg=0.0))


def model_statistics(fraction: np.ndarray, direction: str) -> an.SurfaceStatistics:
    """The surface statistics of a model's Li fraction map (axis 0 along [010], axis 1 along
    [001], every pixel in the particle): the truth that an image of the particle estimates."""
    return an.surface_statistics(fraction, np.ones(fraction.shape, bool), _channels(), direction)


def parameters(assignments: Sequence[str] = ()) -> PlateletParameters:
    """Model parameters with ``name=value`` assignments (``--set``) over the defaults.

    >>> parameters(["exchange_current_mA_cm2=0.1"]).exchange_current_mA_cm2
    0.1
    """
    fields = {f.name: f for f in dataclasses.fields(PlateletParameters)}
    changes = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise ValueError(
                f"--set {assignment!r}: give name=value with a name among {', '.join(fields)}"
            )
        try:
            changes[name] = text.strip() if fields[name].type in (str, "str") else float(text)
        except ValueError:
            raise ValueError(f"--set {assignment!r}: {name} takes a number") from None
    return PlateletParameters(**changes)  # its own checks name a bad value


def galvanostatic_run(
    c_rate: float,
    seed: int = 0,
    params: PlateletParameters | None = None,
    *,
    rest_at_half: bool = False,
    to_cutoff: bool = True,
) -> Run:
    """Drive a fresh particle at ``c_rate`` (1/h) to the cutoff; read it along the way.

    With ``rest_at_half`` the particle rests ``REST_S`` at open circuit from SoC 0.5 and the
    run ends there; without ``to_cutoff`` it ends at SoC 0.5.
    """
    lithiating = c_rate > 0
    particle = PlateletModel(
        *SHAPE,
        pixel_nm=PIXEL_NM,
        params=params or PlateletParameters(),
        seed=seed,
        x0=0.02 if lithiating else 0.98,
    )
    electrode = Electrode([particle], CAPACITY_AH)
    current, run = c_rate * CAPACITY_AH, Run(c_rate, seed)
    dt, cutoff = electrode.step_s(current), CUTOFF_V[run.direction]

    def soc() -> float:
        return electrode.mean_fraction if lithiating else 1 - electrode.mean_fraction

    start = soc()
    plateau, curve, marks, window_start = [], [], list(MAP_SOCS), None
    while soc() < 0.99:
        reading = electrode.step(dt, current_A=current)
        now = soc()
        if not curve or now - curve[-1][0] >= 0.005:
            curve.append((now - start, reading.voltage_V))
        if PLATEAU_SOC[0] <= now <= PLATEAU_SOC[1]:
            plateau.append(reading.voltage_V)
        crossed = reading.voltage_V < cutoff if lithiating else reading.voltage_V > cutoff
        if crossed and np.isnan(run.capacity_to_cutoff):
            run.capacity_to_cutoff = now - start
        if marks and now >= marks[0]:
            run.maps[marks.pop(0)] = particle.fraction_map()
        if run.fraction_half is not None:
            continue
        if window_start is None:
            if now >= WINDOW_SOC[0]:
                window_start, run.fraction_before = particle.end_uptake, particle.fraction_map()
                run.window_s = 0.0
            continue
        run.window_s += dt
        if now < WINDOW_SOC[1]:
            continue
        run.end_flux_half = (particle.end_uptake - window_start) / run.window_s
        run.voltage_half_V, run.fraction_half = reading.voltage_V, particle.fraction_map()
        run.surface_j0_half = particle.surface_exchange()
        if rest_at_half:
            run.relaxation, run.fraction_rested = _rest(electrode, particle, run.direction)
        if rest_at_half or not to_cutoff:
            return run
    run.plateau_V, run.curve = float(np.mean(plateau)), np.array(curve)
    if np.isnan(run.capacity_to_cutoff):
        run.capacity_to_cutoff = soc() - start
    return run


def _rest(electrode: Electrode, particle: PlateletModel, direction: str):
    """x_surf - x_int every ``REST_SAMPLE_S`` through ``REST_S`` at open circuit, and the
    map at the end."""
    step = 10.0
    series = [(0.0, _surface_excess(particle.fraction_map(), direction))]
    for index in range(1, int(REST_S / step) + 1):
        electrode.step(step, current_A=0.0)
        if index * step % REST_SAMPLE_S == 0:
            series.append((index * step, _surface_excess(particle.fraction_map(), direction)))
    return np.array(series), particle.fraction_map()


def _surface_excess(fraction: np.ndarray, direction: str) -> float:
    stats = model_statistics(fraction, direction)
    return stats.mean_surface - stats.mean_internal


def sweep(
    rates: Sequence[float] = RATES,
    seeds: Sequence[int] = (0, 1, 2),
    params: PlateletParameters | None = None,
    progress=None,
) -> dict[float, list[Run]]:
    """Runs at each C-rate, both directions and every seed; ``progress(done, total)`` after
    each run."""
    total, runs = 2 * len(rates) * len(seeds), {}
    for rate in rates:
        runs[rate] = []
        for seed in seeds:
            for sign in (1, -1):
                runs[rate].append(galvanostatic_run(sign * rate, seed, params))
                if progress:
                    progress(sum(map(len, runs.values())), total)
    return runs


def reference_voltage(runs: dict[float, list[Run]]) -> float:
    """The middle of the model's 0.2C lithiation and delithiation plateaus, V: the paper's
    definition of its 3.428 V reference, applied to the model."""
    group = runs[REFERENCE_C_RATE]
    return float(
        np.mean([np.mean([r.plateau_V for r in by_direction(group, d)]) for d in DIRECTIONS])
    )


def by_direction(runs: Sequence[Run], direction: str) -> list[Run]:
    return [run for run in runs if run.direction == direction]


def overpotential_ratio(runs: Sequence[Run], reference_V: float) -> float:
    """|eta_lith| / |eta_delith| at SoC 0.5, means over the runs of each direction."""
    eta = [
        np.mean([r.voltage_half_V - reference_V for r in by_direction(runs, d)]) for d in DIRECTIONS
    ]
    return float(abs(eta[0]) / abs(eta[1]))


def seed_ratios(runs: Sequence[Run], reference_V: float) -> np.ndarray:
    """|eta_lith| / |eta_delith| at SoC 0.5 of each seed that ran both directions: their
    spread is the ratio's seed-to-seed uncertainty."""
    eta = {(r.seed, r.direction): abs(r.voltage_half_V - reference_V) for r in runs}
    both = sorted({s for s, _ in eta if all((s, d) in eta for d in DIRECTIONS)})
    return np.array([eta[(s, "lithiation")] / eta[(s, "delithiation")] for s in both])


def current_weighted_j0(run: Run) -> float:
    """Mean exchange rate of the reacting surface, weighted by each end's |flux| (truth)."""
    weights = np.abs(run.end_flux_half)
    return float((run.surface_j0_half * weights).sum() / weights.sum())


def channel_spread(run: Run) -> float:
    """Standard deviation of the channel-mean Li fraction at SoC 0.5 (Fig. 3a)."""
    return float(run.fraction_half.mean(axis=0).std())


def j0_points(runs: Sequence[Run], reference_V: float) -> tuple[np.ndarray, np.ndarray]:
    """(x_surf, j0 mA/cm2) per channel from the analysis's Butler-Volmer inversion (Fig. 4b)."""
    xs, j0s = [], []
    for run in runs:
        xs.append(run.surface_compositions())
        j0s.append(
            an.exchange_current_butler_volmer(
                run.channel_currents(), run.voltage_half_V - reference_V
            )
        )
    return np.concatenate(xs), np.concatenate(j0s)


def run_rows(runs: dict[float, list[Run]], reference_V: float) -> list[dict]:
    """One row per run: what the paper's rate figures plot (the CSV ``paper_runs.csv``)."""
    rows = []
    for rate, group in runs.items():
        for run in group:
            stats, j_ch = run.statistics(), run.channel_currents()
            rows.append(
                dict(
                    c_rate=rate,
                    direction=run.direction,
                    seed=run.seed,
                    overpotential_V=run.voltage_half_V - reference_V,
                    capacity_to_cutoff=run.capacity_to_cutoff,
                    x_surf=stats.mean_surface,
                    x_internal=stats.mean_internal,
                    active_fraction=stats.active_fraction,
                    transformed_fraction=stats.transformed_fraction,
                    channel_spread=channel_spread(run),
                    j_ch_cv=float(j_ch.std() / abs(j_ch.mean())),
                    current_weighted_j0=current_weighted_j0(run),
                )
            )
    return rows
