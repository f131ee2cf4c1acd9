"""The simulated world: clock, forward model of a frame, drift, potentiostat firmware."""

import numpy as np
import pytest
from scipy import ndimage

from stxm_operando.config import BeamlineConfig, ParticleConfig, SimConfig
from stxm_operando.limits import LimitViolation
from stxm_operando.sim import SimulatedBeamline
from stxm_operando.sim.potentiostat import ComplianceError, Mode


def one_particle_world(**sim_kwargs) -> SimulatedBeamline:
    particle = ParticleConfig(
        center_um=(0.0, 0.0), angle_deg=0.0, n_010=10, n_001=25, thickness_nm=150.0, x0=0.3
    )
    return SimulatedBeamline(BeamlineConfig(sim=SimConfig(particles=(particle,), **sim_kwargs)))


def test_raster_takes_dwell_times_pixels_of_simulated_time():
    world = SimulatedBeamline()
    result = world.acquire_raster(0.0, 0.0, 30, 20, 40.0, 2.0)
    line_overhead_s = world.config.detector.line_overhead_ms / 1e3  # the controller's
    fly_back_s = 29 * 0.04 / world.config.stage.fine_velocity_um_s  # to the next line's start
    counting_s = 20 * 30 * 2e-3
    expected = counting_s + 19 * (line_overhead_s + fly_back_s)  # from the first point
    assert result.end_s - result.start_s == pytest.approx(expected, rel=1e-3)
    assert world.clock_s == pytest.approx(result.end_s)
    assert result.counts.shape == result.x_um.shape == result.y_um.shape == (20, 30)


def test_frame_follows_beer_lambert_with_poisson_noise():
    world = one_particle_world(drift_nm_per_min=0.0, piezo_jitter_nm=0.0)
    world.move("zp_z", world.focus_z_um(world.positions["energy"]))
    result = world.acquire_raster(0.0, 0.0, 60, 40, 40.0, 1.0)
    od = -np.log(result.counts / result.i0_counts)
    blank = od[:4, :]  # particle is 400 nm tall around y = 0; these rows are > 0.6 um away
    assert blank.mean() == pytest.approx(world.config.sim.membrane_od, abs=0.01)
    # Poisson: variance equals the mean
    blank_counts = result.counts[:4, :]
    assert blank_counts.var() / blank_counts.mean() == pytest.approx(1.0, abs=0.25)
    # particle interior: membrane + t (x mu_LFP + (1 - x) mu_FP)
    x = world.true_fraction_maps()[0].mean()
    mu_lfp, mu_fp = world.spectra.mu(world.positions["energy"])
    expected = world.config.sim.membrane_od + 0.150 * (x * mu_lfp + (1 - x) * mu_fp)
    assert od[18:22, 25:35].mean() == pytest.approx(expected, rel=0.05)


def test_contrast_between_energies_follows_lithium_content():
    world = one_particle_world(drift_nm_per_min=0.0)
    ods = []
    for energy in (708.2, 710.2):
        world.move("energy", energy)
        world.move("zp_z", world.focus_z_um(energy))
        r = world.acquire_raster(0.0, 0.0, 40, 20, 40.0, 1.0)
        ods.append(-np.log(r.counts[8:12, 15:25] / r.i0_counts).mean())
    x = world.true_fraction_maps()[0].mean()  # 0.3: Li-poor, so 710.2 absorbs more
    assert x < 0.5 and ods[1] > ods[0]


def test_several_particles_in_the_field_of_view():
    world = SimulatedBeamline()  # default: two particles
    r = world.acquire_raster(0.0, 0.0, 80, 60, 40.0, 0.5)
    od = -np.log(r.counts / r.i0_counts)
    _, n_particles = ndimage.label(od > world.config.sim.membrane_od + 0.5)
    assert n_particles == len(world.particles) == 2


def test_drift_moves_the_particle_between_frames():
    world = one_particle_world(drift_nm_per_min=30.0)
    first = world.drift_um()
    world.advance(600.0)
    moved = np.hypot(*(world.drift_um() - first))
    assert 0.1 < moved < 0.6  # ~30 nm/min for 10 min plus wobble
    assert np.allclose(world.drift_um(600.0), world.drift_um())  # a function of time only


def test_defocus_blurs_the_image():
    def edge_sharpness(world):
        r = world.acquire_raster(0.0, 0.0, 60, 30, 20.0, 1.0)
        od = -np.log(r.counts / r.i0_counts)
        return np.abs(np.diff(od, axis=1)).max()

    focused = one_particle_world(drift_nm_per_min=0.0)
    blurred = one_particle_world(drift_nm_per_min=0.0)
    blurred.move("zp_z", blurred.focus_z_um(blurred.positions["energy"]) + 8.0)
    assert edge_sharpness(blurred) < 0.6 * edge_sharpness(focused)


def test_time_runs_electrochemistry_during_imaging():
    world = SimulatedBeamline()
    pstat = world.potentiostat
    pstat.set_current(4e-6)
    pstat.set_mode(Mode.GALVANOSTATIC)
    pstat.set_output(True)
    before = world.electrode.mean_fraction
    world.acquire_raster(0.0, 0.0, 100, 100, 40.0, 10.0)  # 100 s of beam time
    gained = world.electrode.mean_fraction - before
    assert gained == pytest.approx(4 * 100 / 3600, rel=0.05)


def test_cutoff_switches_potentiostat_to_ocv_and_records_why():
    world = SimulatedBeamline()
    pstat = world.potentiostat
    pstat.set_cutoffs(3.3, 3.9)
    pstat.set_current(1e-5)  # 10C lithiation pushes below 3.3 V
    pstat.set_mode(Mode.GALVANOSTATIC)
    pstat.set_output(True)
    world.advance(120.0)
    assert pstat.mode is Mode.OCV and not pstat.output_on
    assert "lower cutoff" in pstat.trip_reason
    charge = pstat.charge_C
    world.advance(300.0)
    assert pstat.charge_C == pytest.approx(charge)  # no current after the trip
    assert pstat.voltage_V > 3.3  # relaxes at open circuit


def test_compliance_is_checked_before_any_current_flows():
    world = SimulatedBeamline()
    pstat = world.potentiostat
    with pytest.raises(ComplianceError, match="compliance"):
        pstat.set_current(1.0)
    with pytest.raises(ComplianceError):
        pstat.set_voltage(7.0)
    with pytest.raises(ComplianceError):
        pstat.set_cutoffs(3.8, 3.0)
    assert pstat.current_setpoint_A == 0.0
    pstat.set_mode(Mode.GALVANOSTATIC)
    pstat.set_output(True)
    world.advance(100.0)
    assert pstat.charge_C == pytest.approx(0.0, abs=1e-12)


def test_potentiostat_logs_every_interval_without_a_client():
    world = SimulatedBeamline()
    pstat = world.potentiostat
    pstat.set_current(2e-6)
    pstat.set_mode(Mode.GALVANOSTATIC)
    pstat.set_output(True)
    world.advance(500.0)
    log = pstat.log_array()
    assert pstat.log_count == len(log)
    spacing = np.diff(log[:, 0])
    assert spacing.max() < 6.0 and spacing[5:].max() < 1.5  # ~1 s once current flows
    assert np.all(np.diff(log[5:, 3]) > 0)  # charge grows monotonically


def test_moves_are_validated_and_take_time():
    world = SimulatedBeamline()
    with pytest.raises(LimitViolation, match="outside its travel"):
        world.move("fine_x", 80.0)
    with pytest.raises(LimitViolation):
        world.move("energy", 650.0)
    assert world.clock_s == 0.0
    world.move("fine_x", 20.0)
    assert world.clock_s == pytest.approx(20.0 / world.config.stage.fine_velocity_um_s)
    with pytest.raises(LimitViolation, match="beyond the fine stage"):
        world.acquire_raster(45.0, 0.0, 500, 10, 40.0, 1.0)
