"""The simulator's science: spectra, optics, particle model and electrode."""

import numpy as np
import pytest

from stxm_operando.analysis.statistics import ACTIVE_RANGE
from stxm_operando.physics.constants import OCV_PLATEAU_V, thermal_voltage
from stxm_operando.physics.electrode import Electrode
from stxm_operando.physics.kinetics import j0_skewed
from stxm_operando.physics.optics import focal_length_um, probe_sigma_nm
from stxm_operando.physics.particle import MA_CM2_PER_NM_S, PlateletModel, PlateletParameters
from stxm_operando.physics.spectra import ReferenceSpectra

CAPACITY_AH = 1e-6


def run_to_half(
    c_rate: float,
    seed: int = 0,
    n_010: int = 10,
    n_001: int = 25,
    params: PlateletParameters | None = None,
) -> tuple[PlateletModel, Electrode]:
    """Charge (c_rate > 0) or discharge a fresh particle at constant current to SoC 0.5."""
    particle = PlateletModel(
        n_010,
        n_001,
        params=params or PlateletParameters(),
        seed=seed,
        x0=0.02 if c_rate > 0 else 0.98,
    )
    electrode = Electrode([particle], CAPACITY_AH)
    current = c_rate * CAPACITY_AH
    dt = electrode.step_s(current)
    while (electrode.mean_fraction < 0.5) if c_rate > 0 else (electrode.mean_fraction > 0.5):
        electrode.step(dt, current_A=current)
    return particle, electrode


def test_reference_spectra_match_published_ratios_and_peaks():
    spectra = ReferenceSpectra.load_default()
    od_708, od_710 = spectra.mu_matrix([708.2, 710.2])
    assert od_710[0] / od_708[0] == pytest.approx(0.52, abs=0.01)
    assert od_710[1] / od_708[1] == pytest.approx(2.14, abs=0.02)
    peaks = spectra.energy_eV[np.argmax(spectra.mu_per_um, axis=0)]
    assert peaks == pytest.approx([708.2, 710.2], abs=0.1)
    low, high = spectra.energy_range
    assert low <= 700 and high >= 720
    with pytest.raises(ValueError, match="outside the reference spectra"):
        spectra.mu(750.0)


def test_zone_plate_focal_length_follows_energy():
    # f = D dr E / hc by hand: 240 um * 25 nm * 710 eV / 1239.84 eV nm
    assert focal_length_um(710.0, 240.0, 25.0) == pytest.approx(240 * 25 * 710 / 1239.84198)
    assert focal_length_um(720.0, 240.0, 25.0) > focal_length_um(700.0, 240.0, 25.0)
    assert probe_sigma_nm(0.0, 708.0, 25.0) < probe_sigma_nm(3.0, 708.0, 25.0)


def test_slow_rate_delithiation_goes_channel_by_channel_lithiation_stays_uniform():
    lithiated, _ = run_to_half(0.15)
    delithiated, _ = run_to_half(-0.15)
    spread_lith = lithiated.bulk.std()
    spread_delith = delithiated.bulk.std()
    assert spread_delith > 2.5 * spread_lith
    assert spread_delith > 0.2


def surface_minus_interior(p: PlateletModel) -> float:
    seen = p.fraction_map()
    return seen[[0, -1], :].mean() - seen[1:-1, :].mean()


def test_high_rate_surface_is_li_rich_on_lithiation_and_li_poor_on_delithiation():
    lithiated, _ = run_to_half(4.0)
    delithiated, _ = run_to_half(-4.0)
    assert surface_minus_interior(lithiated) > 0.08
    assert surface_minus_interior(delithiated) < -0.08


def test_the_surface_layer_is_part_of_the_end_pixel_and_of_the_mass():
    particle, _ = run_to_half(4.0)
    seen = particle.fraction_map()
    share = particle.layer_nm / particle.pixel_nm  # each end's own layer
    for end, row in ((0, 0), (1, -1)):
        expected = share[end] * particle.layer[end] + (1 - share[end]) * particle.bulk
        assert seen[row] == pytest.approx(expected)
    assert seen[1:-1] == pytest.approx(np.repeat(particle.bulk[None, :], 8, axis=0))
    # the image's mean is the particle's mean: the layers sit inside the end pixels
    assert seen.mean() == pytest.approx(particle.mean_fraction, abs=1e-12)


def test_thick_surface_layers_read_as_transformed_pixels_at_high_rate():
    # Fig. 5c: the layer's thickness varies from face to face; at 4C the ends whose
    # transformed layer fills most of the end pixel read transformed (past the analysis's
    # active range), with one thickness for all ends none does
    high = ACTIVE_RANGE[1]
    particle, _ = run_to_half(4.0)
    transformed = particle.fraction_map()[[0, -1]] >= high
    assert 0.02 < transformed.mean() < 0.25  # the paper: ~10 %
    thickness = particle.layer_nm
    assert thickness[transformed].min() > np.median(thickness[~transformed])
    uniform, _ = run_to_half(4.0, params=PlateletParameters(surface_layer_spread=0.0))
    assert not (uniform.fraction_map()[[0, -1]] >= high).any()


def test_galvanostatic_charge_is_conserved():
    # Li fraction gained equals the integral of the delivered current over the capacity
    electrode = Electrode([PlateletModel(10, 25, x0=0.02)], CAPACITY_AH)
    dt = electrode.step_s(2e-6)
    charge = sum(electrode.step(dt, current_A=2e-6).current_A * dt for _ in range(400))
    assert charge == pytest.approx(2e-6 * 400 * dt)
    gained = electrode.mean_fraction - 0.02
    assert gained == pytest.approx(charge / 3600 / CAPACITY_AH, rel=1e-3)


def test_potentiostatic_and_rest_control():
    particle = PlateletModel(10, 12, x0=0.5)
    electrode = Electrode([particle], CAPACITY_AH)
    below = electrode.step(10.0, voltage_V=OCV_PLATEAU_V - 0.1)
    assert below.current_A > 0 and below.voltage_V == pytest.approx(OCV_PLATEAU_V - 0.1)
    above = electrode.step(10.0, voltage_V=OCV_PLATEAU_V + 0.1)
    assert above.current_A < 0
    before = electrode.mean_fraction
    for _ in range(20):
        rest = electrode.step(5.0, current_A=0.0)
    assert rest.current_A == pytest.approx(0.0, abs=1e-15)
    assert electrode.mean_fraction == pytest.approx(before, abs=1e-9)
    # V = V0 - (kT/e) mu_e
    assert rest.voltage_V == pytest.approx(OCV_PLATEAU_V - thermal_voltage() * electrode.mu_e)


def test_overpotential_grows_with_rate_and_sign_follows_direction():
    _, slow = run_to_half(0.5)
    _, fast = run_to_half(8.0)
    _, fast_delith = run_to_half(-8.0)
    assert fast.voltage() < slow.voltage() < OCV_PLATEAU_V
    assert fast_delith.voltage() > OCV_PLATEAU_V


def test_model_is_deterministic_for_a_seed_and_heterogeneous_across_seeds():
    a, _ = run_to_half(4.0, seed=3)
    b, _ = run_to_half(4.0, seed=3)
    c, _ = run_to_half(4.0, seed=4)
    assert np.array_equal(a.fraction_map(), b.fraction_map())
    assert not np.allclose(a.k0, c.k0)
    assert a.k0.std() > 0  # per-channel rate heterogeneity


def test_lim_exchange_current_is_the_default_and_bv_an_option():
    assert PlateletParameters().j0_form == "lim"
    lim, _ = run_to_half(4.0)
    bv, _ = run_to_half(4.0, params=PlateletParameters(j0_form="bv"))
    assert not np.allclose(lim.fraction_map(), bv.fraction_map(), atol=1e-3)
    assert j0_skewed(0.25) == pytest.approx(1.0)
    assert j0_skewed(0.64) == pytest.approx(0.52, abs=0.02)
    assert j0_skewed(0.41) == pytest.approx(0.87, abs=0.03)


def test_true_channel_current_matches_electrode_current():
    particle, electrode = run_to_half(4.0)
    uptake0, t = particle.end_uptake.copy(), 0.0
    dt = electrode.step_s(4e-6)
    for _ in range(50):
        electrode.step(dt, current_A=4e-6)
        t += dt
    flux = (particle.end_uptake - uptake0) / t  # nm/s
    j_ch = particle.channel_current_mA_cm2(flux)
    assert j_ch.shape == (25,)
    assert np.all(j_ch > 0)  # lithiation is positive
    # both ends of a channel together fill its n_010 pixels at 4C: 2 <flux> = 4/3600 * L
    rate = 4.0 / 3600
    assert (2 * flux.mean()) == pytest.approx(rate * particle.n_010 * particle.pixel_nm, rel=1e-6)
    # and that is the cell's current density over the reacting faces
    assert j_ch.mean() == pytest.approx(flux.mean() * MA_CM2_PER_NM_S)


def test_a_surface_phase_persists_at_rest_only_inside_a_miscibility_gap():
    # MODEL.md: the layer's gap (Omega_s > 2 kT) keeps a transformed surface at open circuit;
    # a solid-solution layer (Omega_s < 2 kT) drains into the bulk behind it within the hour
    kept = {}
    for omega in (4.5, 1.5):
        particle, electrode = run_to_half(4.0, params=PlateletParameters(surface_omega_kT=omega))
        before = particle.layer.mean() - particle.bulk.mean()
        for _ in range(360):  # an hour at rest
            electrode.step(10.0, current_A=0.0)
        kept[omega] = (particle.layer.mean() - particle.bulk.mean()) / before
    assert kept[4.5] > 0.9  # the paper's Fig. S8a: the surface phases persist
    assert kept[1.5] < 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(j0_form="tafel"),
        dict(surface_omega_kT=-1.0),
        dict(surface_layer_spread=-0.5),
        dict(omega_kT=0.0),
        dict(diffusivity_cm2_s=-1.0),
        dict(surface_strain_fraction=1.5),
        dict(surface_diffusivity_cm2_s=0.0),
        dict(rate_spread=-0.1),
    ],
)
def test_bad_material_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        PlateletParameters(**kwargs)


def test_bad_electrode_inputs_are_rejected():
    particle = PlateletModel(5, 5)
    with pytest.raises(ValueError, match="capacity"):
        Electrode([particle], 0.0)
    electrode = Electrode([particle], CAPACITY_AH)
    with pytest.raises(ValueError, match="exactly one"):
        electrode.step(1.0)
    with pytest.raises(ValueError):
        PlateletModel(2, 5)
    with pytest.raises(ValueError, match="thinner than a pixel"):
        PlateletModel(5, 5, pixel_nm=10.0)
