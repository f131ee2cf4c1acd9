"""Simulated seconds per wall second of the particle model (25 x 10 pixels) at 1C and 10C.

Run: ``python benchmarks/bench_particle_model.py``
"""

import time

from stxm_operando.physics.electrode import Electrode
from stxm_operando.physics.particle import PlateletModel

CAPACITY_AH = 1e-6


def simulated_per_wall_second(c_rate: float, repeats: int = 3) -> tuple[float, float]:
    """Best-of-``repeats`` speed for lithiating 0.02 -> 0.9; returns (sim s / wall s, sim s)."""
    best = 0.0
    for _ in range(repeats):
        electrode = Electrode([PlateletModel(10, 25, x0=0.02)], CAPACITY_AH)
        current = c_rate * CAPACITY_AH
        dt, simulated = electrode.step_s(current), 0.0
        start = time.perf_counter()
        while electrode.mean_fraction < 0.9:
            electrode.step(dt, current_A=current)
            simulated += dt
        best = max(best, simulated / (time.perf_counter() - start))
    return best, simulated


def main() -> None:
    print("particle model, 25 x 10 pixels, lithiation x = 0.02 -> 0.9")
    for c_rate in (1.0, 10.0):
        speed, simulated = simulated_per_wall_second(c_rate)
        print(
            f"  {c_rate:4.0f}C: {speed:8.0f} simulated s per wall s "
            f"({simulated:.0f} s simulated in {simulated / speed:.2f} s)"
        )


if __name__ == "__main__":
    main()
