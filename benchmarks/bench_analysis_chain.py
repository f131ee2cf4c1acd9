"""Milliseconds of the whole analysis chain for one frame pair, against its acquisition time.

Chain: two energies' counts -> OD -> x and thickness -> registration to the first frame ->
particle masks -> channels -> dx/dt -> j_Ch -> statistics (``analyse_frame_pair``).
Fields of platelets (9 x 25 px) every ~40 px, counts with Poisson noise at I0 = 1e4.
Acquisition of a pair at 1 ms dwell per pixel takes 2 x N^2 ms. Baseline, measured side by
side: a memory-bound numpy pass over the same pair (OD of both images, the two-phase unmix and
the Li fraction, every pixel once). Goal: the chain within 10x of it at 512^2.

Run: ``python benchmarks/bench_analysis_chain.py``
"""

import time

import numpy as np

from stxm_operando.analysis.pipeline import analyse_frame_pair
from stxm_operando.physics.spectra import ReferenceSpectra

MU = ReferenceSpectra.load_default().mu_matrix((708.2, 710.2))


def field(size: int, fraction: float, shift: tuple[int, int], rng) -> list[np.ndarray]:
    """Counts at both energies of a field tiled with platelets of Li fraction ~``fraction``."""
    lfp, fp = np.zeros((size, size)), np.zeros((size, size))
    for top in range(8, size - 20, 40):
        for left in range(8, size - 36, 40):
            x = np.clip(fraction + 0.1 * rng.standard_normal((9, 25)), 0, 1)
            lfp[top : top + 9, left : left + 25] = 0.15 * x
            fp[top : top + 9, left : left + 25] = 0.15 * (1 - x)
    phases = np.roll(np.stack([lfp, fp]), shift, axis=(1, 2))
    od = np.tensordot(MU, phases, axes=1) + 0.15
    return [rng.poisson(1e4 * np.exp(-od[k])) for k in range(2)]


def numpy_pass(counts, i0: float = 1e4) -> np.ndarray:
    """The floor: OD, unmixing and Li fraction of every pixel, vectorised, nothing else."""
    od = np.log(i0) - np.log(np.maximum(np.stack(counts), 0.5))
    phases = np.tensordot(np.linalg.inv(MU), od, axes=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return phases[0] / (phases[0] + phases[1])


def best_s(action, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main(repeats: int = 3) -> None:
    rng = np.random.default_rng(0)
    print("analysis chain per frame pair (best of 3), vs. acquisition at 1 ms/pixel and vs. a")
    print("memory-bound numpy pass over the same pair (goal at 512^2: chain <= 10x the pass)")
    print(
        f"{'field':>10s} {'particles':>10s} {'chain ms':>10s} {'acq. s':>8s} {'of acq.':>8s} "
        f"{'pass ms':>8s} {'chain/pass':>10s}"
    )
    for size in (128, 256, 512, 1024):
        first = analyse_frame_pair(
            *field(size, 0.3, (0, 0), rng),
            MU,
            time_s=0.0,
            pixel_size_nm=40.0,
            direction="lithiation",
        )
        second_counts = field(size, 0.4, (1, -2), rng)
        result = analyse_frame_pair(
            *second_counts,
            MU,
            time_s=60.0,
            pixel_size_nm=40.0,
            direction="lithiation",
            previous=first,
        )
        best = best_s(
            lambda counts=second_counts, first=first: analyse_frame_pair(
                *counts,
                MU,
                time_s=60.0,
                pixel_size_nm=40.0,
                direction="lithiation",
                previous=first,
            ),
            repeats,
        )
        floor = best_s(lambda counts=second_counts: numpy_pass(counts), repeats)
        acquisition = 2 * size * size * 1e-3
        print(
            f"{size:>5d}^2 px {len(result.particles):>10d} {best * 1e3:>10.1f} "
            f"{acquisition:>8.1f} {best / acquisition:>8.2%} {floor * 1e3:>8.1f} "
            f"{best / floor:>9.0f}x"
        )


if __name__ == "__main__":
    main()
