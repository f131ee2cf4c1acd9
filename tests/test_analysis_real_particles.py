"""The analysis against an independent forward model of real particles (``forward_model``).

Nothing here simulates with the code under test: images come from pixel-integrated
transmission through rotated trapezoidal platelets with their own absorption table, I0 that
differs per energy and frame, and drift that moves the particles. Thresholds are the issue's
acceptance bounds; noise bounds are measured by repeating the measurement.
"""

import forward_model as fm
import numpy as np
import pytest

from stxm_operando import analysis as an
from stxm_operando.analysis.pipeline import analyse_frame_pair, blank_region
from stxm_operando.physics.spectra import ReferenceSpectra

MU = ReferenceSpectra.load_default().mu_matrix((708.2, 710.2))  # the analysis's own table
SHAPE = (48, 48)
LENGTH_NM = 1000.0
PERIOD_S = 600.0
ANGLES = (0.0, 30.0, 60.0, 90.0)


def blocks(s_nm):
    """+1 / -1 / +1 along [001]: lithiating, delithiating and lithiating channel blocks."""
    return np.sin(3 * np.pi * (np.asarray(s_nm) / LENGTH_NM + 0.5))


def x_surface(s_nm, t_s):
    """Surfaces run ahead: 0.95 (Li-rich) and 0.05 (Li-poor) at the end of the period."""
    return 0.5 + 0.45 * blocks(s_nm) * t_s / PERIOD_S


def x_internal(s_nm, t_s):
    return 0.5 + 0.2 * blocks(s_nm) * t_s / PERIOD_S


def platelet(angle_deg: float, rng) -> fm.Platelet:
    """A 1 um x 360-440 nm x 150 nm platelet with its faces at random sub-pixel offsets."""
    centre = tuple(960.0 + rng.uniform(0, fm.PIXEL_NM, 2))
    return fm.Platelet(centre, angle_deg, LENGTH_NM, (360.0, 440.0), 150.0, x_surface, x_internal)


def i0_pair(rng):
    return tuple(rng.uniform(0.8e4, 1.2e4, 2))  # counts per pixel, per energy and frame


def analyse(first, second, time_s, direction="lithiation", previous=None):
    return analyse_frame_pair(
        first,
        second,
        MU,
        time_s=time_s,
        pixel_size_nm=fm.PIXEL_NM,
        direction=direction,
        previous=previous,
    )


@pytest.mark.parametrize("angle", ANGLES)
def test_li_fraction_and_thickness_hold_at_partly_covered_edges(angle):
    rng = np.random.default_rng(int(angle) + 1)
    particle = platelet(angle, rng)
    first, second, truth = fm.frame_pair([particle], SHAPE, PERIOD_S, i0_pair(rng), rng=rng)
    result = analyse(first, second, PERIOD_S)
    inside = result.labels > 0
    assert len(result.particles) == 1
    assert (truth.coverage[inside] > 0.2).all()  # the mask holds particle pixels only
    partial = inside & (truth.coverage < 0.9)
    assert partial.sum() > 20  # the edges are really cut by the pixel grid
    rmse = np.sqrt(np.mean((result.x[inside] - truth.x[inside]) ** 2))
    assert rmse <= 0.05
    edge_rmse = np.sqrt(np.mean((result.x[partial] - truth.x[partial]) ** 2))
    assert edge_rmse <= 0.08  # the linear solve reads 0.05 as ~0.2 there
    height = an.particle_height(result.thickness, inside)
    assert height == pytest.approx(0.150, rel=0.10)
    covered = result.coverage[inside]
    assert np.sqrt(np.mean((covered - truth.coverage[inside]) ** 2)) < 0.1


def test_readings_lost_from_a_pair_leave_the_analysis_as_it_was():
    """Six readings missing from each image (NaN, as placement leaves them), two of them on
    the particle: the series still registers, and the Li map matches the truth as closely as
    the complete pair's does."""
    rng = np.random.default_rng(11)
    particle = platelet(30.0, rng)
    first, second, truth = fm.frame_pair([particle], SHAPE, PERIOD_S, i0_pair(rng), rng=rng)
    complete = analyse(first, second, PERIOD_S)
    inside = complete.labels > 0
    on_particle = np.argwhere(inside)[rng.choice(inside.sum(), 2, replace=False)]
    off_particle = np.argwhere(~inside)[rng.choice((~inside).sum(), 4, replace=False)]
    for image in (first, second):
        for row, column in np.concatenate([on_particle, off_particle]):
            image[row, column] = np.nan
    with pytest.warns(RuntimeWarning, match="non-finite"):
        holed = analyse(first, second, PERIOD_S + 60, previous=complete)
    assert len(holed.particles) == 1
    assert abs(holed.shift[0]) < 0.1 and abs(holed.shift[1]) < 0.1  # no drift was made
    both = inside & (holed.labels > 0)
    assert both.sum() >= 0.95 * inside.sum()

    def rmse(result):
        return np.sqrt(np.nanmean((result.x[both] - truth.x[both]) ** 2))

    assert rmse(holed) <= rmse(complete) + 0.01


def drifting_field():
    """Four particles of different sizes and angles; the last is cut by the field's edge."""
    return [
        fm.Platelet((700, 800), 30, 1000, (360, 440), 150, x_surface, x_internal),
        fm.Platelet((1500, 1900), -60, 800, (300, 400), 130, x_surface, x_internal),
        fm.Platelet((1800, 300), 80, 1200, (400, 500), 160, x_internal, x_surface),
        fm.Platelet((200, 2300), 10, 900, (350, 350), 150, x_surface, x_internal),
    ]


def test_registration_of_a_drifting_series_to_a_tenth_of_a_pixel():
    rng = np.random.default_rng(7)
    drift_nm = np.array([(0, 0), (4, -6), (20, 30), (-50, 40), (90, -70), (110, 100)], float)
    thickness = []
    for k, drift in enumerate(drift_nm):  # composition changes between frames
        first, second, _ = fm.frame_pair(
            drifting_field(), (56, 64), k * 120.0, i0_pair(rng), tuple(drift), rng
        )
        od = [an.optical_density(c, blank_mask=blank_region(c)) for c in (first, second)]
        thickness.append(an.unmix_two_energy(*od, MU)[1])
    found = an.register_series(np.stack(thickness))
    assert np.abs(found - (-drift_nm / fm.PIXEL_NM)).max() <= 0.1


@pytest.mark.parametrize("angle", ANGLES)
def test_channel_currents_at_every_orientation(angle):
    rng = np.random.default_rng(100 + int(angle))
    particle = platelet(angle, rng)
    t0, t1 = 0.6 * PERIOD_S, PERIOD_S
    drift_nm = tuple(rng.uniform(-60, 60, 2))
    before = analyse(*fm.frame_pair([particle], SHAPE, t0, i0_pair(rng), rng=rng)[:2], t0)
    after = analyse(
        *fm.frame_pair([particle], SHAPE, t1, i0_pair(rng), drift_nm, rng)[:2],
        t1,
        previous=before,
    )
    assert np.allclose(after.shift, -np.array(drift_nm) / fm.PIXEL_NM, atol=0.1)
    result = after.particles[0]
    s_nm = [fm.channel_s_nm(particle, ch.pixels) for ch in result.channels]  # reference frame
    truth = particle.true_current_mA_cm2(np.array(s_nm), t0, t1)
    assert len(result.channels) >= 22  # 1 um of [001] at 40 nm
    assert np.corrcoef(result.j_ch, truth)[0, 1] >= 0.9
    scale = (result.j_ch @ truth) / (truth @ truth)  # least-squares slope
    assert scale == pytest.approx(1.0, abs=0.15)
    strong = np.abs(truth) > 0.25 * np.abs(truth).max()  # lithiating and delithiating blocks
    assert (truth[strong] > 0).any() and (truth[strong] < 0).any()
    assert np.all(np.sign(result.j_ch[strong]) == np.sign(truth[strong]))


def surface_readings(particle, seed):
    """Per channel: its mean [001] position (nm), x_surf, and the true composition of the
    surface layer at its two end pixels; and the particle's results in both directions."""
    rng = np.random.default_rng(seed)
    first, second, _ = fm.frame_pair([particle], SHAPE, PERIOD_S, i0_pair(rng), rng=rng)
    lith = analyse(first, second, PERIOD_S, "lithiation").particles[0]
    delith = analyse(first, second, PERIOD_S, "delithiation").particles[0]
    s_mean = np.array([fm.channel_s_nm(particle, ch.pixels) for ch in lith.channels])
    s_ends = [[fm.channel_s_nm(particle, [end]) for end in ch.ends] for ch in lith.channels]
    truth = np.array([x_surface(np.array(s), PERIOD_S).mean() for s in s_ends])
    return s_mean, lith.x_surf, truth, lith, delith


@pytest.mark.parametrize("angle", ANGLES)
def test_surface_composition_and_statistics_within_counting_noise(angle):
    particle = platelet(angle, np.random.default_rng(200 + int(angle)))
    s_nm, x_surf, truth, lith, delith = surface_readings(particle, 99)
    repeats = [surface_readings(particle, seed)[:2] for seed in range(1, 13)]
    samples = [[] for _ in s_nm]  # the same channel in each repeat: nearest in [001]
    for s_repeat, x_repeat in repeats:
        for k, s in enumerate(s_nm):
            nearest = np.argmin(np.abs(s_repeat - s))
            if abs(s_repeat[nearest] - s) < 15.0:
                samples[k].append(x_repeat[nearest])
    measured = np.array([len(v) >= 8 for v in samples])
    assert measured.mean() >= 0.9
    sigma = np.array([np.std(v, ddof=1) if len(v) >= 8 else np.nan for v in samples])
    bound = 3 * sigma + 0.02
    assert np.all(np.abs(x_surf - truth)[measured] <= bound[measured]), np.c_[x_surf, truth, sigma]
    # active / transformed: only channels within noise of a threshold may be counted wrongly
    low, high = an.statistics.ACTIVE_RANGE
    margin = np.where(measured, bound, 0.1)
    allowed = ((np.abs(truth - low) < margin) | (np.abs(truth - high) < margin)).mean() + 1e-9
    active = ((truth >= low) & (truth <= high)).mean()
    assert abs(lith.statistics.active_fraction - active) <= allowed
    assert abs(lith.statistics.transformed_fraction - (truth >= high).mean()) <= allowed
    assert abs(delith.statistics.transformed_fraction - (truth <= low).mean()) <= allowed
    assert (truth >= high).mean() > 0.1 and (truth <= low).mean() > 0.1
