"""The simulated operando demo: 4C lithiation and delithiation of two particles, imaged at
both Fe L3 energies every simulated minute, on the RunEngine."""

from pathlib import Path

import bluesky.plan_stubs as bps
import numpy as np
from bluesky import RunEngine

from .config import BeamlineConfig
from .devices import simulated_beamline

ENERGIES_EV = (708.2, 710.2)


def _surface_and_interior(c: np.ndarray) -> tuple[float, float]:
    return float(c[[0, -1], :].mean()), float(c[1:-1, :].mean())


def run_demo(
    config: BeamlineConfig | None = None, output: str | Path = "demo-output", c_rate: float = 4.0
) -> dict[str, list[tuple[float, float]]]:
    """Run the demo; return the true (x_surf, x_internal) per particle at SoC ~0.5 for each
    direction and print a summary table."""
    bl = simulated_beamline(config)
    RE = RunEngine({})
    pstat, world = bl.potentiostat, bl.world
    summary: dict[str, list[tuple[float, float]]] = {}

    def image_particles():
        for energy in ENERGIES_EV:
            yield from bps.mv(bl.scanner, energy)
            for particle in bl.config.sim.particles:
                yield from bps.mv(
                    bl.raster.center_x,
                    particle.center_um[0],
                    bl.raster.center_y,
                    particle.center_um[1],
                )
                yield from bps.trigger_and_read([bl.raster, pstat, bl.clock])

    def step(direction: str, current_A: float):
        yield from bps.open_run(md={"direction": direction, "c_rate": c_rate})
        yield from bps.mv(bl.raster.num_x, 40, bl.raster.num_y, 40, bl.raster.dwell, 0.5)
        yield from bps.mv(pstat.lower_cutoff, 2.9, pstat.upper_cutoff, 3.95)
        yield from bps.mv(pstat.current_setpoint, current_A, pstat.mode, "GALVANOSTATIC")
        yield from bps.mv(pstat.output, 1)
        half_done = False
        while pstat.output.get():
            yield from image_particles()
            fraction = world.electrode.mean_fraction
            if not half_done and (fraction >= 0.5 if current_A > 0 else fraction <= 0.5):
                summary[direction] = [_surface_and_interior(c) for c in world.true_fraction_maps()]
                half_done = True
            yield from bps.mv(bl.clock, 60.0)
        yield from bps.mv(bl.clock, 600.0)  # rest
        yield from bps.close_run()

    current = pstat.current_for_c_rate(c_rate)
    RE(step("lithiation", current))
    RE(step("delithiation", -current))
    Path(output).mkdir(parents=True, exist_ok=True)
    print(f"{'direction':14s} {'particle':>8s} {'<x_surf>':>9s} {'<x_int>':>8s}")
    for direction, rows in summary.items():
        for i, (surface, interior) in enumerate(rows):
            print(f"{direction:14s} {i:8d} {surface:9.3f} {interior:8.3f}")
    print(f"simulated time {world.clock_s / 60:.1f} min, last trip: {pstat.trip_reason.get()}")
    return summary
