"""The paper's figures from the particle model (Koo et al., Energy Environ. Sci. 2023, 16,
3302): ``runs`` drives the model and reads it as the paper reads its images, ``report``
prints the tables, writes them as CSV and draws the figure."""

from .report import PaperResult, compute, main, summary, tables
from .runs import (
    PAPER,
    RATES,
    Run,
    by_direction,
    channel_spread,
    current_weighted_j0,
    galvanostatic_run,
    j0_points,
    model_statistics,
    overpotential_ratio,
    parameters,
    reference_voltage,
    seed_ratios,
    sweep,
)

__all__ = [
    "PAPER",
    "RATES",
    "PaperResult",
    "Run",
    "by_direction",
    "channel_spread",
    "compute",
    "current_weighted_j0",
    "galvanostatic_run",
    "j0_points",
    "main",
    "model_statistics",
    "overpotential_ratio",
    "parameters",
    "reference_voltage",
    "seed_ratios",
    "summary",
    "sweep",
    "tables",
]
