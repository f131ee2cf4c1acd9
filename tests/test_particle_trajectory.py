"""The particle model's trajectories, pinned: any speed-up must leave them unchanged.

``tests/data/particle_trajectory.npz`` holds trajectories computed by the surface-layer model
(issue 29; each channel end's own layer thickness since 2026-12-06). Run this file as a
script to write it again, only when a change to the physics is meant.
"""

from pathlib import Path

import numpy as np

from stxm_operando.physics.electrode import Electrode
from stxm_operando.physics.particle import PlateletModel, PlateletParameters

REFERENCE = Path(__file__).parent / "data" / "particle_trajectory.npz"
CAPACITY_AH = 1e-6


def trajectories() -> dict[str, np.ndarray]:
    """Compositions, currents and voltages along: one 10 x 25 px platelet lithiating at 1C;
    two platelets (different seeds, the second with Butler-Volmer j0) delithiating at 4C, then
    resting, then held at 3.35 V."""
    out = {}
    electrode = Electrode([PlateletModel(10, 25, x0=0.02)], CAPACITY_AH)
    current = 1.0 * CAPACITY_AH
    dt = electrode.step_s(current)
    snapshots, readings = [], []
    for step in range(3000):
        reading = electrode.step(dt, current_A=current)
        readings.append((reading.current_A, reading.voltage_V))
        if step % 500 == 499:
            snapshots.append(electrode.particles[0].fraction_map())
    out["one_1C_c"] = np.array(snapshots)
    out["one_1C_current"], out["one_1C_voltage"] = np.array(readings).T
    particles = [
        PlateletModel(8, 20, x0=0.9, seed=3),
        PlateletModel(12, 18, x0=0.85, seed=4, params=PlateletParameters(j0_form="bv")),
    ]
    electrode = Electrode(particles, CAPACITY_AH)
    readings = []
    for current, voltage, steps in (
        (-4 * CAPACITY_AH, None, 600),
        (0.0, None, 300),
        (None, 3.35, 300),
    ):
        dt = electrode.step_s(current if current is not None else 4 * CAPACITY_AH)
        for _ in range(steps):
            if voltage is None:
                reading = electrode.step(dt, current_A=current)
            else:
                reading = electrode.step(dt, voltage_V=voltage)
            readings.append((reading.current_A, reading.voltage_V))
    out["two_c0"], out["two_c1"] = particles[0].fraction_map(), particles[1].fraction_map()
    out["two_current"], out["two_voltage"] = np.array(readings).T
    out["two_uptake"] = particles[0].end_uptake.copy()
    return out


def test_the_model_follows_its_pinned_trajectories_to_1e_6():
    reference = np.load(REFERENCE)
    now = trajectories()
    assert set(now) == set(reference.files)
    for name, values in now.items():  # each quantity against its own scale
        scale = np.abs(reference[name]).max()
        assert np.abs(values - reference[name]).max() <= 1e-6 * scale, name


if __name__ == "__main__":
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **trajectories())
    print(f"wrote {REFERENCE}")
