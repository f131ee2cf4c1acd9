"""Simulated seconds per wall second of the particle model (25 x 10 pixels) at 1C and 10C.

Goal: >= 1e4 simulated s per wall s at 1C. Baseline, measured in the same run: the floor of
any Python-driven implicit step on this grid, one dense 250 x 250 matrix-vector product and
one elementwise update per step, run for as many steps.
Run: ``python benchmarks/bench_particle_model.py``
"""

import time

import numpy as np

from stxm_operando.physics.electrode import Electrode
from stxm_operando.physics.particle import PlateletModel

CAPACITY_AH = 1e-6


def simulated_per_wall_second(c_rate: float, repeats: int = 3) -> tuple[float, float, int]:
    """Best-of-``repeats`` speed for lithiating 0.02 -> 0.9; returns (sim s / wall s, sim s,
    steps)."""
    best = 0.0
    for _ in range(repeats):
        electrode = Electrode([PlateletModel(10, 25, x0=0.02)], CAPACITY_AH)
        current = c_rate * CAPACITY_AH
        dt, simulated, steps = electrode.step_s(current), 0.0, 0
        start = time.perf_counter()
        while electrode.mean_fraction < 0.9:
            electrode.step(dt, current_A=current)
            simulated += dt
            steps += 1
        best = max(best, simulated / (time.perf_counter() - start))
    return best, simulated, steps


def floor_step_s(steps: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` wall time per step of the baseline loop, s."""
    rng = np.random.default_rng(0)
    operator = np.eye(250) + 1e-3 * rng.standard_normal((250, 250))
    c = np.full((10, 25), 0.5)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            c = np.minimum(np.maximum(c + 1e-6 * (operator @ c.ravel()).reshape(c.shape), 0), 1)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main() -> None:
    print("particle model, 25 x 10 pixels, lithiation x = 0.02 -> 0.9")
    for c_rate in (1.0, 10.0):
        speed, simulated, steps = simulated_per_wall_second(c_rate)
        per_step = simulated / speed / steps
        floor = floor_step_s(steps)
        goal = f" (goal >= 1e4: {'met' if speed >= 1e4 else 'NOT met'})" if c_rate == 1 else ""
        print(
            f"  {c_rate:4.0f}C: {speed:8.0f} simulated s per wall s{goal} "
            f"({simulated:.0f} s simulated in {simulated / speed:.2f} s, {steps} steps of "
            f"{per_step * 1e6:.0f} us; baseline loop {floor * 1e6:.0f} us per step, "
            f"model / baseline {per_step / floor:.1f}x)"
        )


if __name__ == "__main__":
    main()
