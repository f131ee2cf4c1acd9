"""``stxm-operando paper``: the sweep's tables beside the paper's numbers, as text and CSV,
and the figure (PNG, PDF, SVG)."""

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import analysis as an
from ..physics.particle import PlateletParameters
from .runs import (
    DIRECTIONS,
    PAPER,
    RATES,
    REST_S,
    Run,
    by_direction,
    galvanostatic_run,
    j0_points,
    overpotential_ratio,
    parameters,
    reference_voltage,
    run_rows,
    seed_ratios,
    sweep,
)

SUMMARY_KEYS = (
    "overpotential_V",
    "capacity_to_cutoff",
    "x_surf",
    "x_internal",
    "active_fraction",
    "transformed_fraction",
    "channel_spread",
    "j_ch_cv",
    "current_weighted_j0",
)
FAST_C_RATE = 1.0  # Fig. 4b's points: every channel at >= 1C, where |eta| is well above noise


@dataclass
class PaperResult:
    """Everything the tables and the figure are drawn from.

    Attributes
    ----------
    runs : the sweep, by C-rate.
    rested : 4C runs of each direction and seed rested an hour from SoC 0.5.
    reference_V : the middle of the model's 0.2C plateaus, V.
    rows : one row per run (``run_rows``).
    j0 : (x_surf, j0 mA/cm2) of every channel of the runs at >= 1C.
    params : the model's parameters.
    """

    runs: dict[float, list[Run]]
    rested: list[Run]
    reference_V: float
    rows: list[dict]
    j0: tuple[np.ndarray, np.ndarray]
    params: PlateletParameters

    def fit(self) -> an.J0Fit:
        return an.fit_j0(*self.j0)


def compute(
    seeds: Sequence[int] = (0, 1, 2), params: PlateletParameters | None = None, progress=None
) -> PaperResult:
    """Run the sweep and the rests; ``progress(done, total)`` after each run."""
    params = params or PlateletParameters()
    rests = [(sign * 4.0, seed) for seed in seeds for sign in (1, -1)]
    runs_total = 2 * len(seeds) * len(RATES) + len(rests)

    def sweep_progress(done: int, _: int) -> None:
        if progress:
            progress(done, runs_total)

    runs = sweep(RATES, seeds, params, sweep_progress)
    rested = []
    for rate, seed in rests:
        rested.append(galvanostatic_run(rate, seed, params, rest_at_half=True))
        sweep_progress(runs_total - len(rests) + len(rested), runs_total)
    reference_V = reference_voltage(runs)
    fast = [r for rate, group in runs.items() if rate >= FAST_C_RATE for r in group]
    return PaperResult(
        runs, rested, reference_V, run_rows(runs, reference_V), j0_points(fast, reference_V), params
    )


def summary(rows: Sequence[dict]) -> list[dict]:
    """Mean and standard deviation over seeds of each ``SUMMARY_KEYS`` quantity, by C-rate
    and direction (``paper_summary.csv``)."""
    out = []
    for rate in sorted({r["c_rate"] for r in rows}):
        for direction in DIRECTIONS:
            group = [r for r in rows if r["c_rate"] == rate and r["direction"] == direction]
            row = dict(c_rate=rate, direction=direction, runs=len(group))
            for key in SUMMARY_KEYS:
                values = np.array([g[key] for g in group], dtype=float)
                row[key], row[f"{key}_std"] = float(np.mean(values)), float(np.std(values))
            out.append(row)
    return out


def relaxation_rows(rested: Sequence[Run]) -> list[dict]:
    """x_surf - x_int through the rest, mean and spread over seeds by direction."""
    rows = []
    for direction in DIRECTIONS:
        series = np.array([r.relaxation for r in by_direction(rested, direction)])
        for index, time_s in enumerate(series[0, :, 0]):
            values = series[:, index, 1]
            rows.append(
                dict(
                    direction=direction,
                    time_s=float(time_s),
                    surface_minus_internal=float(values.mean()),
                    surface_minus_internal_std=float(values.std()),
                )
            )
    return rows


def persistence(rested: Sequence[Run], direction: str) -> float:
    """Share of x_surf - x_int kept after the hour at rest, mean over seeds."""
    series = [r.relaxation for r in by_direction(rested, direction)]
    return float(np.mean([s[-1, 1] / s[0, 1] for s in series]))


def tables(result: PaperResult) -> str:
    """The paper's tables, model beside paper."""
    by_key = {(r["c_rate"], r["direction"]): r for r in summary(result.rows)}
    fit = result.fit()
    lines = [
        f"Reference: middle of the model's 0.2C plateaus {result.reference_V:.4f} V "
        f"(paper: {PAPER['reference_V']} V, its own 0.2C midpoint)",
        "",
        "Fig. 1b/1c: capacity to cutoff and overpotential at SoC 0.5 (paper: |eta| grows much",
        "faster on lithiation; ratio ~1 at slow rate, rising with rate)",
        f"{'C-rate':>6} {'cap lith':>9} {'cap delith':>10} {'eta lith mV':>12} "
        f"{'eta delith mV':>14} {'ratio':>6} {'sd seeds':>8}",
    ]
    for rate, group in result.runs.items():
        lith, delith = by_key[(rate, "lithiation")], by_key[(rate, "delithiation")]
        lines.append(
            f"{rate:6.2f} {lith['capacity_to_cutoff']:9.2f} {delith['capacity_to_cutoff']:10.2f} "
            f"{1e3 * lith['overpotential_V']:12.1f} {1e3 * delith['overpotential_V']:14.1f} "
            f"{overpotential_ratio(group, result.reference_V):6.2f} "
            f"{np.std(seed_ratios(group, result.reference_V)):8.2f}"
        )
    slow = min(result.runs)
    lines += [
        "",
        f"Figs. 3a/4a at {slow}C, SoC 0.5 (paper: delithiation channel by channel, "
        "lithiation uniform)",
        f"{'direction':>13} {'channel spread':>15} {'j_Ch CV':>8} {'active':>7}",
    ]
    for direction in DIRECTIONS:
        row = by_key[(slow, direction)]
        lines.append(
            f"{direction:>13} {row['channel_spread']:15.3f} {row['j_ch_cv']:8.2f} "
            f"{row['active_fraction']:7.2f}"
        )
    lines += [
        "",
        "Fig. 4b: j0 against x_surf, Butler-Volmer inversion of every channel at "
        f">= {FAST_C_RATE:g}C",
        f"  fit A x^a (1-x)^b: a = {fit.a:.2f} +- {fit.stderr[1]:.2f}, "
        f"b = {fit.b:.2f} +- {fit.stderr[2]:.2f}, max at x = {fit.x_max:.2f} "
        f"(paper, Lim 2016: a = 0.5, b = 1.5, max at {PAPER['j0_max_x']})",
        "",
        "Figs. 5b/5c at 4C, SoC 0.5",
        f"{'direction':>13} {'<x_surf>':>9} {'paper':>6} {'<x_int>':>8} {'active':>7} "
        f"{'transformed':>12} {'j0 weighted':>12}",
    ]
    for direction in DIRECTIONS:
        row = by_key[(4.0, direction)]
        lines.append(
            f"{direction:>13} {row['x_surf']:9.3f} {PAPER['x_surf_4C'][direction]:6.2f} "
            f"{row['x_internal']:8.3f} {row['active_fraction']:7.2f} "
            f"{row['transformed_fraction']:12.2f} {row['current_weighted_j0']:12.4f}"
        )
    lines += [
        f"  (paper: ~{PAPER['active_4C']:.0%} active, ~{PAPER['transformed_4C']:.0%} "
        "transformed in both directions)",
        "",
        f"Persistence: x_surf - x_int at 4C, SoC 0.5, then after {REST_S / 60:.0f} min at rest "
        "(paper: the surface phases persist after an hour)",
    ]
    relaxation = relaxation_rows(result.rested)
    for direction in DIRECTIONS:
        series = [r for r in relaxation if r["direction"] == direction]
        lines.append(
            f"{direction:>13} {series[0]['surface_minus_internal']:+.3f} -> "
            f"{series[-1]['surface_minus_internal']:+.3f} "
            f"(kept {persistence(result.rested, direction):.0%})"
        )
    return "\n".join(lines)


def write_csv(rows: Sequence[dict], path: Path) -> Path:
    """Rows (dicts with the same keys) as a CSV file with a header."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def main(
    output: str | Path = "paper-output",
    seeds: Sequence[int] = (0, 1, 2),
    assignments: Sequence[str] = (),
) -> str:
    """Run the sweep with the model's parameters (``assignments``: ``name=value`` over the
    defaults), print the tables, and save them as CSV and the figure as PNG, PDF and SVG
    under ``output``."""
    from ..gui.figures import output_folder
    from ..gui.paper_figure import save_paper_figure

    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("--seeds must be at least 1")
    params = parameters(assignments)  # a bad --set is refused before the sweep
    output = output_folder(output)  # and so is a folder it cannot write in

    def progress(done: int, total: int) -> None:
        print(f"\rparticle runs: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    result = compute(seeds, params, progress)
    text = tables(result)
    print(text)
    x, j0 = result.j0
    written = [
        write_csv(result.rows, output / "paper_runs.csv"),
        write_csv(summary(result.rows), output / "paper_summary.csv"),
        write_csv(relaxation_rows(result.rested), output / "paper_relaxation.csv"),
        write_csv(
            [dict(x_surf=float(a), j0_mA_cm2=float(b)) for a, b in zip(x, j0, strict=True)],
            output / "paper_j0.csv",
        ),
    ]
    (output / "paper_tables.txt").write_text(text + "\n")
    written.append(output / "paper_tables.txt")
    written += save_paper_figure(result, output / "paper.png")
    for path in written:
        print(f"wrote {path}")
    return text
