"""The paper's surface-versus-interior summary (Fig. 5b/5c): one row per particle and
direction, and its printed table."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SummaryRow:
    """Surface statistics of one particle at the frame nearest a state of charge."""

    direction: str
    particle_id: int
    c_rate: float
    frame_index: int
    mean_fraction: float
    mean_surface: float
    mean_internal: float
    active_fraction: float
    transformed_fraction: float


def print_summary(rows: list[SummaryRow]) -> None:
    """The paper's Fig. 5b/5c numbers: surface vs interior at SoC ~0.5."""
    print(
        f"{'direction':13s} {'C-rate':>6s} {'particle':>8s} {'<x>':>6s} {'<x_surf>':>9s} "
        f"{'<x_int>':>8s} {'active':>7s} {'transf.':>7s}"
    )
    for r in rows:
        print(
            f"{r.direction:13s} {r.c_rate:6.1f} {r.particle_id:8d} {r.mean_fraction:6.3f} "
            f"{r.mean_surface:9.3f} {r.mean_internal:8.3f} {r.active_fraction:7.0%} "
            f"{r.transformed_fraction:7.0%}"
        )
