"""Analysis core: its pieces on synthetic fields, exact inverses and the simulator's
geometry (masks, drift). Its accuracy on measured-like data (partly covered edges, another
absorption table, drift, counting noise) is held against the independent forward model in
``test_analysis_real_particles.py``, never against the simulator it would share a model
with."""

import numpy as np
import pytest
from scipy import ndimage

from stxm_operando import analysis as an
from stxm_operando.analysis.pipeline import blank_region
from stxm_operando.config import BeamlineConfig, ParticleConfig, SimConfig
from stxm_operando.physics.spectra import ReferenceSpectra
from stxm_operando.sim import SimulatedBeamline
from stxm_operando.sim.potentiostat import Mode

ENERGIES = (708.2, 710.2)
MU = ReferenceSpectra.load_default().mu_matrix(ENERGIES)  # 1/um
RNG = np.random.default_rng(42)


def aligned_world(x0: float, **sim) -> SimulatedBeamline:
    """One axis-aligned 9 x 25 platelet whose 40 nm grid coincides with a 41 x 21 raster."""
    particle = ParticleConfig(
        center_um=(0.0, 0.0), angle_deg=0.0, n_010=9, n_001=25, thickness_nm=150.0, x0=x0
    )
    sim = dict(drift_nm_per_min=0.0, piezo_jitter_nm=0.0) | sim
    return SimulatedBeamline(BeamlineConfig(sim=SimConfig(particles=(particle,), **sim)))


def run_current(world: SimulatedBeamline, current_A: float) -> None:
    world.potentiostat.set_current(current_A)
    world.potentiostat.set_mode(Mode.GALVANOSTATIC)
    world.potentiostat.set_output(True)


def frame_pair(world, nx=41, ny=21, dwell_ms=1.0, center=(0.0, 0.0)):
    images = []
    for energy in ENERGIES:
        world.move("energy", energy)
        world.move("zp_z", world.focus_z_um(energy))
        images.append(world.acquire_raster(*center, nx, ny, 40.0, dwell_ms).counts)
    return images


# --- optical density and unmixing ---------------------------------------------------------
def test_optical_density_from_scalar_array_and_blank_region():
    counts = np.array([[1000.0, 500.0], [1000.0, 250.0]])
    assert an.optical_density(counts, i0=1000.0)[0, 1] == pytest.approx(np.log(2))
    assert an.optical_density(counts, i0=np.array([[1000.0], [500.0]]))[1, 1] == pytest.approx(
        np.log(2)
    )
    blank = np.array([[True, False], [True, False]])
    assert an.optical_density(counts, blank_mask=blank)[1, 1] == pytest.approx(np.log(4))


def test_optical_density_clamps_non_positive_counts_with_a_warning():
    with pytest.warns(RuntimeWarning, match="clamped"):
        od = an.optical_density(np.array([0.0, -3.0, 100.0]), i0=100.0)
    assert np.all(np.isfinite(od)) and od[0] == pytest.approx(np.log(200.0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "exactly one"),
        (dict(i0=1.0, blank_mask=np.ones((2, 2), bool)), "exactly one"),
        (dict(blank_mask=np.zeros((2, 2), bool)), "no pixels"),
        (dict(blank_mask=np.ones((3, 2), bool)), "shape"),
        (dict(i0=np.ones(3)), "does not match"),
        (dict(i0=0.0), "positive"),
    ],
)
def test_optical_density_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        an.optical_density(np.ones((2, 2)), **kwargs)


def synthetic_field(shape=(48, 64)):
    """A known x gradient inside an ellipse of known thickness (um)."""
    y, x = np.mgrid[: shape[0], : shape[1]]
    inside = ((y - 24) / 14) ** 2 + ((x - 32) / 24) ** 2 < 1
    thickness = np.where(inside, 0.15, 0.0)
    fraction = np.clip((x - 8) / 48, 0, 1)
    return fraction, thickness, inside


def test_unmixing_recovers_a_synthetic_field_exactly_and_under_counting_noise():
    fraction, thickness, inside = synthetic_field()
    phases = np.stack([thickness * fraction, thickness * (1 - fraction)])
    od = np.tensordot(MU, phases, axes=1)
    x, t = an.unmix_two_energy(od[0], od[1], MU)
    assert np.allclose(x[inside], fraction[inside]) and np.allclose(t, thickness)
    counts = RNG.poisson(1e4 * np.exp(-od))
    x_noisy, _ = an.unmix_two_energy(*(an.optical_density(c, i0=1e4) for c in counts), MU)
    rmse = np.sqrt(np.mean((x_noisy[inside] - fraction[inside]) ** 2))
    assert rmse < 0.05
    stack = an.unmix_stack(
        np.tensordot(np.vstack([MU, [[2.0, 2.1]]]), phases, axes=1), np.vstack([MU, [[2.0, 2.1]]])
    )
    assert np.allclose(stack, phases)


def test_unmixing_bad_input():
    with pytest.raises(ValueError, match="shape"):
        an.unmix_two_energy(np.ones((3, 3)), np.ones((3, 4)), MU)
    with pytest.raises(ValueError, match="singular"):
        an.unmix_two_energy(np.ones(3), np.ones(3), [[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(ValueError, match="mu must be"):
        an.unmix_stack(np.ones((3, 5)), MU)


# --- masks ----------------------------------------------------------------------------------
def test_particle_mask_labels_each_particle_of_a_simulated_field():
    world = SimulatedBeamline()  # two particles
    images = frame_pair(world, nx=80, ny=60, center=(0.0, 0.0))
    od = [an.optical_density(c, blank_mask=blank_region(c)) for c in images]
    _, thickness = an.unmix_two_energy(*od, MU)
    labels = an.particle_mask(thickness)
    assert labels.max() == 2
    sizes = sorted(np.bincount(labels.ravel())[1:])
    expected = sorted(p.n_010 * p.n_001 for p in world.config.sim.particles)
    assert np.allclose(sizes, expected, rtol=0.15)
    assert an.particle_mask(np.zeros((10, 10))).max() == 0
    with pytest.raises(ValueError, match="2-D"):
        an.particle_mask(np.zeros(10))


# --- registration --------------------------------------------------------------------------
def fourier_shift(image, shift):
    return np.real(np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(image), shift)))


def test_registration_recovers_subpixel_shift_with_noise():
    world = SimulatedBeamline()
    images = frame_pair(world, nx=64, ny=64)
    od = an.optical_density(images[0], blank_mask=blank_region(images[0]))
    true_shift = (1.37, -2.61)
    moved = fourier_shift(od, true_shift) + RNG.normal(0, 0.01, od.shape)
    estimate = an.register_frames(od, moved)
    assert np.allclose(estimate, np.negative(true_shift), atol=0.2)
    assert np.allclose(
        an.register_frames(od, an.apply_shift(moved, estimate, fill=0.0)), (0.0, 0.0), atol=0.2
    )


def test_registration_follows_simulated_stage_drift():
    world = SimulatedBeamline(BeamlineConfig(sim=SimConfig(drift_nm_per_min=20.0)))
    drift0 = world.drift_um()
    first = frame_pair(world, nx=64, ny=64)
    world.advance(900.0)
    drift1 = world.drift_um()
    second = frame_pair(world, nx=64, ny=64)
    _, t0 = an.unmix_two_energy(*(an.optical_density(c, i0=1e4) for c in first), MU)
    _, t1 = an.unmix_two_energy(*(an.optical_density(c, i0=1e4) for c in second), MU)
    dy, dx = an.register_frames(t0, t1)
    moved_px = (drift1 - drift0) * 1e3 / 40.0  # (x, y) in pixels
    assert dx == pytest.approx(-moved_px[0], abs=0.2)
    assert dy == pytest.approx(-moved_px[1], abs=0.2)


def test_series_registration_alignment_and_limits():
    _, thickness, _ = synthetic_field()
    shifts = np.array([(0.0, 0.0), (0.8, -1.3), (2.2, 0.6)])
    frames = np.stack([fourier_shift(thickness, s) for s in shifts])
    found = an.register_series(frames)
    assert np.allclose(found, -shifts, atol=0.2)
    aligned = an.align_series(frames, found)
    assert aligned.shape[1] < frames.shape[1] and np.all(np.isfinite(aligned))
    assert np.abs(aligned[2] - aligned[0]).mean() < 0.01
    with pytest.raises(ValueError, match="drifted by more than"):
        an.register_series(frames, max_shift=1.0)
    with pytest.raises(ValueError, match="finite"):
        an.register_frames(np.full((4, 4), np.nan), np.ones((4, 4)))


# --- geometry and channels ------------------------------------------------------------------
def rotated_platelet(angle_deg, shape=(64, 64), length=25, width=9):
    y, x = np.mgrid[: shape[0], : shape[1]] - np.array(shape)[:, None, None] / 2
    theta = np.deg2rad(angle_deg)
    along = x * np.cos(theta) + y * np.sin(theta)
    across = -x * np.sin(theta) + y * np.cos(theta)
    return (np.abs(along) < length / 2) & (np.abs(across) < width / 2)


@pytest.mark.parametrize("angle", [0.0, 17.0, -35.0, 62.0])
def test_particle_axes_find_the_long_001_axis(angle):
    axes = an.particle_axes(rotated_platelet(angle))
    assert axes.angle_deg == pytest.approx(angle, abs=2.0)
    assert axes.length_001 == pytest.approx(25, abs=2) and axes.length_010 == pytest.approx(
        9, abs=2
    )
    assert an.particle_axes(rotated_platelet(angle), angle_deg=5.0).angle_deg == 5.0


def test_channels_of_an_axis_aligned_particle_are_its_columns():
    mask = np.zeros((12, 30), bool)
    mask[2:11, 3:28] = True  # 9 along [010] (rows), 25 along [001] (columns)
    chans = an.channels(mask, an.particle_axes(mask))
    assert len(chans) == 25
    for k, channel in enumerate(chans):
        assert set(channel.pixels[:, 1]) == {3 + k}
        assert channel.ends[:, 0].tolist() == [2, 10]
    covered = {tuple(p) for c in chans for p in c.pixels}
    assert len(covered) == mask.sum()


def test_channels_of_a_rotated_particle_cover_it_once():
    mask = rotated_platelet(30.0)
    chans = an.channels(mask, an.particle_axes(mask), min_length=1)
    pixels = np.concatenate([c.pixels for c in chans])
    assert len(pixels) == mask.sum() == len({tuple(p) for p in pixels})
    assert 23 <= len(chans) <= 30
    with pytest.raises(ValueError, match="empty"):
        an.channels(np.zeros((5, 5), bool), an.particle_axes(mask))
    with pytest.raises(ValueError, match="empty"):
        an.particle_axes(np.zeros((5, 5), bool))


# --- rates, channel currents, kinetics -------------------------------------------------------
def test_channel_current_of_a_synthetic_rate_field():
    mask = np.zeros((10, 6), bool)
    mask[1:9, 1:5] = True
    chans = an.channels(mask, an.particle_axes(mask, angle_deg=0.0))
    rate = np.zeros(mask.shape)
    for k, channel in enumerate(chans):  # channel k takes up (k + 1) 1e-3 per s per pixel
        rate[channel.pixels[:, 0], channel.pixels[:, 1]] = (k + 1) * 1e-3
    j = an.channel_current(rate, chans, pixel_size_nm=50.0)
    per_unit = 96485.33212 * 3.60 / 157.76 * 8 * 50e-7 / 2 * 1e3 * 1e-3
    assert np.allclose(j, per_unit * np.arange(1, 5))
    thick = np.where(mask, 100.0, 0.0)
    thick[1, :] = 50.0  # a face crossing the first row: half the material, a full-height face
    j_partial = an.channel_current(rate, chans, 50.0, thick)
    assert np.allclose(j_partial, j * 7.5 / 8)
    rate[2, 1] = np.nan  # a pixel outside the particle in one frame adds nothing
    assert an.channel_current(rate, chans, 50.0)[0] == pytest.approx(j[0] * 7 / 8)
    assert np.allclose(an.rate_map(np.zeros(3), np.full(3, 0.3), 30.0), 0.01)
    with pytest.raises(ValueError, match="positive"):
        an.rate_map(np.zeros(3), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="shape"):
        an.rate_map(np.zeros(3), np.zeros(4), 1.0)


def test_exchange_current_linear_regime_only():
    kt = 0.025693
    assert an.exchange_current(0.1, -0.05) == pytest.approx(0.1 * kt / 0.05, rel=1e-3)
    assert an.exchange_current(-0.1, 0.05) == pytest.approx(0.1 * kt / 0.05, rel=1e-3)
    for eta in (0.0, 0.12, -0.2, np.nan):
        with pytest.raises(ValueError, match="120 mV"):
            an.exchange_current(0.1, eta)


def test_skewed_j0_and_its_fit():
    assert an.j0_skewed(0.64) == pytest.approx(0.52, abs=0.02)
    assert an.j0_skewed(0.41) == pytest.approx(0.87, abs=0.03)
    x = RNG.uniform(0.1, 0.9, 60)
    j0 = 0.3 * an.j0_skewed(x) * (1 + RNG.normal(0, 0.05, x.size))
    fit = an.fit_j0(x, j0)
    for value, err, truth in zip((fit.a, fit.b), fit.stderr[1:], (0.5, 1.5), strict=True):
        assert abs(value - truth) < 4 * err + 0.05
    assert fit.x_max == pytest.approx(0.25, abs=0.05)
    assert fit(0.25) == pytest.approx(0.3, rel=0.1)
    with pytest.raises(ValueError, match="at least 4"):
        an.fit_j0([0.2, 0.3], [1.0, 1.0])


def test_surface_statistics_of_synthetic_and_simulated_particles():
    mask = np.ones((9, 25), bool)
    x = np.full(mask.shape, 0.5)
    x[[0, -1], :10] = 0.95  # 10 of 25 channels have transformed ends
    chans = an.channels(mask, an.particle_axes(mask))
    lith = an.surface_statistics(x, mask, chans, "lithiation")
    assert lith.transformed_fraction == pytest.approx(10 / 25)
    assert lith.active_fraction == pytest.approx(15 / 25)
    assert lith.mean_internal == pytest.approx(0.5)
    assert an.surface_statistics(x, mask, chans, "delithiation").transformed_fraction == 0
    uniform = an.surface_statistics(np.full(mask.shape, 0.5), mask, chans, "lithiation")
    separated = np.where(np.arange(25) < 12, 0.02, 0.98)[None, :].repeat(9, axis=0)
    split = an.surface_statistics(separated, mask, chans, "lithiation")
    assert uniform.uniformity == pytest.approx(1.0) and split.uniformity < 0.2
    assert split.solid_solution_fraction == 0 and uniform.solid_solution_fraction == 1
    with pytest.raises(ValueError, match="direction"):
        an.surface_statistics(x, mask, chans, "sideways")
    with pytest.raises(ValueError, match="empty"):
        an.surface_statistics(x, np.zeros_like(mask), chans, "lithiation")


# --- electrochemistry ------------------------------------------------------------------------
def galvanostatic_run(c_rate: float) -> an.GalvanostaticStep:
    world = aligned_world(0.02 if c_rate > 0 else 0.98)
    x0 = world.electrode.mean_fraction
    capacity = world.config.potentiostat.capacity_Ah
    run_current(world, c_rate * capacity)
    world.advance(0.7 * 3600 / abs(c_rate))
    log = world.potentiostat.log_array()
    flowing = log[:, 2] != 0
    return an.GalvanostaticStep(log[flowing, 0], log[flowing, 1], log[flowing, 2], capacity, x0)


def test_state_of_charge_from_the_current_integral_tracks_the_simulator():
    step = galvanostatic_run(2.0)
    soc = an.state_of_charge(step.time_s, step.current_A, step.capacity_Ah, step.x0)
    assert soc[-1] == pytest.approx(
        step.x0 + 2.0 * (step.time_s[-1] - step.time_s[0]) / 3600, abs=0.01
    )
    assert an.c_rate(step.current_A[0], step.capacity_Ah) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="capacity"):
        an.state_of_charge(step.time_s, step.current_A, 0.0)
    with pytest.raises(ValueError, match="decrease"):
        an.charge_passed_Ah([0.0, 2.0, 1.0], [1.0, 1.0, 1.0])


def test_overpotential_table_grows_with_c_rate():
    table = an.overpotential_table([galvanostatic_run(c) for c in (1.0, 4.0, -1.0, -4.0)])
    lith = [row for row in table if row.direction == "lithiation"]
    delith = [row for row in table if row.direction == "delithiation"]
    assert [r.c_rate for r in lith] == pytest.approx([1.0, 4.0])
    assert lith[1].eta_V < lith[0].eta_V < 0
    assert delith[1].eta_V > delith[0].eta_V > 0
    assert an.overpotential(3.428) == pytest.approx(0.0)


def test_pixels_are_placed_by_recorded_position_not_arrival_order():
    world = aligned_world(0.3, piezo_jitter_nm=3.0)
    result = world.acquire_raster(0.0, 0.0, 41, 21, 40.0, 1.0)
    order = RNG.permutation(21)  # lines arriving scrambled, one of them twice
    rows = np.concatenate([order, order[:1]])
    placed = an.place_by_position(result.counts[rows], result.x_um[rows], result.y_um[rows], 40.0)
    assert np.array_equal(placed, result.counts)
    missing = an.place_by_position(result.counts[1:], result.x_um[1:], result.y_um[1:], 40.0)
    assert missing.shape == (20, 41)  # the first line never arrived: grid starts at line 2
    with pytest.raises(ValueError, match="finite"):
        an.place_by_position([1.0], [np.nan], [0.0], 40.0)


def test_jittered_positions_land_on_the_written_raster_grid():
    """A 256 x 256 raster at 20 nm whose encoders jitter by 2.5 nm rms, written off the
    origin: the placed image is the commanded grid's shape with every reading in place, even
    though the extreme readings of 65536 sit 4-5 sigma out (the rounding of old)."""
    step_um, shape = 0.020, (256, 256)
    x_line = 37.013 + np.arange(shape[1]) * step_um
    y_line = -12.347 + np.arange(shape[0]) * step_um
    x, y = np.meshgrid(x_line, y_line)
    jitter = 0.0025
    x_read = x + jitter * RNG.standard_normal(shape)
    y_read = y + jitter * RNG.standard_normal(shape)
    values = RNG.random(shape)
    placed = an.place_by_position(values, x_read, y_read, 20.0)
    assert placed.shape == shape
    # a reading lands on a neighbour only past half a step, 4 sigma: ~4 of 65536
    assert np.mean(placed == values) > 0.999
