"""Fuzzing the analysis with hypothesis: NaN, inf and zero counts, empty masks, tiny
particles. Every call either returns finite-shaped results or raises a clear ValueError."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stxm_operando import analysis as an
from stxm_operando.analysis.pipeline import analyse_frame_pair
from stxm_operando.physics.spectra import ReferenceSpectra

MU = ReferenceSpectra.load_default().mu_matrix((708.2, 710.2))
SPECIAL = st.sampled_from([0.0, -1.0, np.nan, np.inf, -np.inf, 1e-300, 1e300])
COUNTS = st.one_of(st.floats(0, 2e4, allow_nan=False), SPECIAL)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def images(min_side=1, max_side=12):
    return st.integers(min_side, max_side).flatmap(
        lambda n: arrays(float, (n, n + 1), elements=COUNTS)
    )


@FUZZ
@given(images(), st.one_of(st.floats(-10, 2e4), SPECIAL))
def test_optical_density_never_returns_garbage_silently(counts, i0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            od = an.optical_density(counts, i0=i0)
        except ValueError:
            assert not (i0 > 0)  # only a bad i0 is refused
            return
    assert od.shape == counts.shape
    if np.isfinite(i0):
        assert np.all(np.isfinite(od[np.isfinite(counts)]))  # finite counts: finite OD
    assert np.all(np.isnan(od[~np.isfinite(counts)]))  # missing pixels stay missing


@FUZZ
@given(images(2, 10), images(2, 10))
def test_unmixing_and_masks_tolerate_anything(a, b):
    if a.shape != b.shape:
        try:
            an.unmix_two_energy(a, b, MU)
        except ValueError as err:
            assert "shape" in str(err)
        return
    with np.errstate(all="ignore"):
        x, thickness = an.unmix_two_energy(a, b, MU)
    finite = x[np.isfinite(x)]
    assert np.all((finite >= 0) & (finite <= 1))
    labels = an.particle_mask(thickness)
    assert labels.shape == a.shape and labels.min() >= 0


@FUZZ
@given(arrays(bool, st.tuples(st.integers(1, 8), st.integers(1, 8))))
def test_geometry_on_tiny_and_empty_masks(mask):
    if not mask.any():
        for call in (
            lambda: an.particle_axes(mask),
            lambda: an.surface_statistics(np.zeros(mask.shape), mask, [], "lithiation"),
        ):
            try:
                call()
                raise AssertionError("an empty mask must be refused")
            except ValueError:
                pass
        return
    axes = an.particle_axes(mask)
    assert np.isfinite(axes.angle_deg) and axes.length_001 >= 1
    chans = an.channels(mask, axes, min_length=1)
    covered = np.concatenate([c.pixels for c in chans])
    assert len(covered) == mask.sum()
    x = np.where(mask, 0.5, np.nan)
    stats = an.surface_statistics(x, mask, chans, "delithiation")
    assert 0 <= stats.active_fraction <= 1


@FUZZ
@given(images(4, 16), st.floats(-5, 5), st.floats(-5, 5))
def test_registration_refuses_non_finite_and_stays_bounded(image, dy, dx):
    try:
        shift = an.register_frames(image, np.roll(image, (int(dy), int(dx)), axis=(0, 1)))
    except ValueError as err:
        assert not np.all(np.isfinite(image))
        assert "finite" in str(err)
        return
    assert all(abs(s) <= max(image.shape) for s in shift)


def blobs(shape, centres, widths, shift=(0.0, 0.0)):
    """Gaussian particles (centres and widths in pixels), moved by ``shift`` (dy, dx) px:
    the sample itself moves, as drift moves it, so the image is no roll of the other."""
    y, x = np.mgrid[: shape[0], : shape[1]]
    image = np.zeros(shape)
    for (cy, cx), width in zip(centres, widths, strict=True):
        image += np.exp(-((y - cy - shift[0]) ** 2 + (x - cx - shift[1]) ** 2) / (2 * width**2))
    return image


@FUZZ
@given(
    st.lists(
        st.tuples(st.floats(20, 44), st.floats(20, 44), st.floats(1.5, 4.0)), min_size=1, max_size=3
    ),
    st.floats(-4, 4),
    st.floats(-4, 4),
)
def test_registration_finds_the_shift_the_sample_was_given(particles, dy, dx):
    """Particles well inside a 64 x 64 field, moved by a sub-pixel (dy, dx): the shift that
    aligns the moved image to the first is (-dy, -dx), to a tenth of a pixel."""
    centres = [(cy, cx) for cy, cx, _ in particles]
    widths = [w for *_, w in particles]
    reference = blobs((64, 64), centres, widths)
    moved = blobs((64, 64), centres, widths, shift=(dy, dx))
    found = an.register_frames(reference, moved)
    assert found == pytest.approx((-dy, -dx), abs=0.1)


@FUZZ
@given(st.integers(4, 20), st.integers(4, 20), st.sampled_from([0.0, 1.0, 1e4]))
def test_the_whole_chain_on_blank_or_degenerate_frames(height, width, level):
    counts = np.full((height, width), level)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = analyse_frame_pair(
                counts, counts, MU, time_s=0.0, pixel_size_nm=40.0, direction="lithiation"
            )
    except ValueError as err:
        assert level == 0.0 and "i0 must be positive" in str(err)  # no flux: no OD
        return
    assert level > 0
    assert result.particles == [] and result.x.shape == counts.shape


@FUZZ
@given(
    arrays(float, st.integers(0, 6), elements=st.one_of(st.floats(-1, 2), SPECIAL)),
    st.one_of(st.floats(-0.2, 0.2), SPECIAL),
)
def test_kinetics_refuse_bad_overpotentials(j, eta):
    for function in (an.exchange_current, an.exchange_current_butler_volmer):
        try:
            j0 = function(j, eta)
        except ValueError:
            assert not np.isfinite(eta) or eta == 0 or abs(eta) >= 0.12
            continue
        assert np.shape(j0) == np.shape(j)
