"""The paper's surface-versus-interior summary (Fig. 5b/5c): one row per particle and
direction, and its printed table."""

from collections.abc import Iterable
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


def summary_table(rows: list[SummaryRow]) -> str:
    """The paper's Fig. 5b/5c numbers as a table: surface vs interior at SoC ~0.5."""
    lines = [
        f"{'direction':13s} {'C-rate':>6s} {'particle':>8s} {'<x>':>6s} {'<x_surf>':>9s} "
        f"{'<x_int>':>8s} {'active':>7s} {'transf.':>7s}"
    ]
    for r in rows:
        lines.append(
            f"{r.direction:13s} {r.c_rate:6.1f} {r.particle_id:8d} {r.mean_fraction:6.3f} "
            f"{r.mean_surface:9.3f} {r.mean_internal:8.3f} {r.active_fraction:7.0%} "
            f"{r.transformed_fraction:7.0%}"
        )
    return "\n".join(lines)


def print_summary(rows: list[SummaryRow]) -> None:
    """Print ``summary_table(rows)``."""
    print(summary_table(rows))


class Summary(list):
    """A list of ``SummaryRow``, shown as the table (``summary_table``) where a session
    displays it: ``live.summary(0.5)`` at the IPython prompt prints what the demo prints.

    Examples
    --------
    >>> Summary([SummaryRow("lithiation", 0, 4.0, 7, 0.5, 0.63, 0.45, 0.96, 0.04)])
    direction     C-rate particle    <x>  <x_surf>  <x_int>  active transf.
    lithiation       4.0        0  0.500     0.630    0.450     96%      4%
    """

    def __repr__(self) -> str:
        return summary_table(self)


def summarize(frames: Iterable, soc: float = 0.5) -> Summary:
    """Per direction and particle, the statistics of the ``FrameRecord`` whose particle-mean
    Li fraction is nearest ``soc`` (the paper's Fig. 5b/5c at SoC 0.5)."""
    best = {}
    for frame in frames:
        if frame.direction not in ("lithiation", "delithiation") or frame.particle is None:
            continue
        key = (frame.direction, frame.particle_id)
        if key not in best or abs(frame.mean_fraction - soc) < abs(best[key].mean_fraction - soc):
            best[key] = frame
    rows = []
    for (direction, particle_id), frame in sorted(best.items()):
        stats = frame.particle.statistics
        rows.append(
            SummaryRow(
                direction,
                particle_id,
                frame.c_rate,
                frame.frame_index,
                frame.mean_fraction,
                stats.mean_surface,
                stats.mean_internal,
                stats.active_fraction,
                stats.transformed_fraction,
            )
        )
    return Summary(rows)
