"""The whole chain for one two-energy frame pair, as the live callbacks and replay run it."""

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from .channels import Channel, ParticleAxes, channels, particle_axes
from .kinetics import channel_current, rate_map, surface_composition
from .masks import particle_height, particle_mask
from .optical_density import (
    fraction_and_thickness,
    optical_density,
    unmix_partial_coverage,
    unmix_stack,
)
from .placement import fill_missing
from .registration import apply_shift, register_frames
from .statistics import SurfaceStatistics, surface_statistics


@dataclass(frozen=True)
class ParticleResult:
    """One particle in one frame pair (maps registered to the series' first frame).

    ``bbox`` is the particle's (row, column) slice of the frame and ``mask`` its pixels
    inside that box; axes and channels are in frame coordinates. ``j_ch`` (mA/cm2) is None
    for the first frame, which has no earlier frame to compare with.
    """

    label: int
    bbox: tuple[slice, slice]
    mask: np.ndarray
    axes: ParticleAxes
    channels: list[Channel]
    x_surf: np.ndarray
    j_ch: np.ndarray | None
    statistics: SurfaceStatistics


@dataclass(frozen=True)
class FrameAnalysis:
    """Results of one two-energy frame pair.

    Attributes
    ----------
    time_s : time of the pair, s.
    od : (2, h, w) optical density at the two energies (as measured).
    x : Li fraction, registered; NaN outside the particles. Pixels that a particle's edge
        crosses are corrected for partial coverage (``unmix_partial_coverage``).
    thickness : apparent thickness (um for mu in 1/um) of the linear solve, registered.
    shift : (dy, dx) applied to register this pair to the first frame, pixels.
    labels : particle labels of the registered maps.
    rate : dx/dt since the previous pair (1/s), NaN where a pixel is outside the particles
        in either pair; or None.
    particles : per-particle results.
    reference_thickness : the series' first thickness map (the registration reference).
    coverage : covered fraction of each particle pixel (0 outside the particles).
    rereferenced : True when the drift since the reference was beyond ``max_shift``: this
        pair became the new reference (no rate across the jump).
    """

    time_s: float
    od: np.ndarray
    x: np.ndarray
    thickness: np.ndarray
    shift: tuple[float, float]
    labels: np.ndarray
    rate: np.ndarray | None
    particles: list[ParticleResult] = field(default_factory=list)
    reference_thickness: np.ndarray | None = None
    coverage: np.ndarray | None = None
    rereferenced: bool = False


def blank_region(counts, margin_px: int = 2) -> np.ndarray:
    """Pixels well away from anything absorbing, from the counts alone.

    A first pass takes I0 as the 95th percentile of the counts, masks pixels thicker than
    0.1 OD and grows that mask by ``margin_px``; the rest is blank. Pixels with no reading
    (NaN) are never blank.
    """
    counts = np.asarray(counts, dtype=float)
    measured = np.isfinite(counts)
    if not measured.any():
        raise ValueError("the image has no measured pixels")
    with np.errstate(invalid="ignore"):
        od = -np.log(np.clip(counts, 0.5, None) / np.percentile(counts[measured], 95))
    absorbing = ndimage.binary_dilation(od > 0.1, iterations=margin_px)
    blank = ~absorbing & measured
    if not blank.any():
        raise ValueError("no blank region found: the field is full of sample; give i0")
    return blank


def analyse_frame_pair(
    counts_e1,
    counts_e2,
    mu,
    *,
    time_s: float,
    pixel_size_nm: float,
    direction: str,
    previous: FrameAnalysis | None = None,
    i0=None,
    min_thickness: float = 0.05,
    max_shift: float = 10.0,
) -> FrameAnalysis:
    """Counts at two energies to registered Li and rate maps, channels, j_Ch and statistics.

    Parameters
    ----------
    counts_e1, counts_e2 : 2-D arrays
        Raster images at the two energies (e.g. 708.2 and 710.2 eV), same shape.
    mu : (2, 2) array_like
        ``mu[i][j]``: absorption of phase j (0 LiFePO4, 1 FePO4) at energy i, 1/um.
    time_s : float
        Time of the pair, s.
    pixel_size_nm : float
        Raster step, nm.
    direction : "lithiation" or "delithiation"
    previous : FrameAnalysis, optional
        The series' previous pair, for registration and the rate map.
    i0 : float or (i0_e1, i0_e2), optional
        Incident counts; by default taken from a blank region of each image.
    min_thickness : float
        Thinnest pixel kept in a particle, um.
    max_shift : float
        Largest drift (pixels) registered against the series' reference; beyond it the
        pair becomes the new reference (``rereferenced``) instead of being shifted.
    """
    counts = [np.asarray(c, dtype=float) for c in (counts_e1, counts_e2)]
    if counts[0].shape != counts[1].shape or counts[0].ndim != 2:
        raise ValueError(
            f"need two 2-D images of one shape, got {counts[0].shape} and {counts[1].shape}"
        )
    i0s = np.broadcast_to(np.asarray(i0, dtype=float), (2,)) if i0 is not None else None
    od = np.stack(
        [
            optical_density(c, blank_mask=blank_region(c))
            if i0s is None
            else optical_density(c, i0=i0s[k])
            for k, c in enumerate(counts)
        ]
    )
    phases = unmix_stack(np.stack([fill_missing(image) for image in od]), mu)
    thickness = phases.sum(axis=0)
    reference = thickness if previous is None else previous.reference_thickness
    if reference.shape != thickness.shape:
        raise ValueError(
            f"frame shape {thickness.shape} differs from the series' first frame {reference.shape}"
        )
    shift = register_frames(reference, thickness)
    rereferenced = max(abs(shift[0]), abs(shift[1])) > max_shift
    if rereferenced:  # too far to trust: start the series' registration afresh here
        reference, shift, previous = thickness, (0.0, 0.0), None
    # shift the finite phase-thickness maps, not x (NaN off the particle would spread)
    registered = np.stack([apply_shift(p, shift, fill=0.0, order=3) for p in phases])
    _, thickness = fraction_and_thickness(registered)
    registered_od = np.tensordot(np.asarray(mu, dtype=float), registered, axes=1)
    labels = particle_mask(thickness, min_thickness=min_thickness)
    boxes = ndimage.find_objects(labels)
    height = np.zeros(thickness.shape)  # each particle's own thickness on its pixels, um
    for label, bbox in enumerate(boxes, start=1):
        mask = labels[bbox] == label
        height[bbox][mask] = particle_height(thickness[bbox], mask)
    inside = labels > 0
    x = np.full(thickness.shape, np.nan)
    coverage = np.zeros(thickness.shape)
    x[inside], coverage[inside] = unmix_partial_coverage(
        registered_od[0][inside], registered_od[1][inside], mu, height[inside]
    )
    # material thickness: coverage x height at an edge, the measured thickness inside, nm
    material_nm = np.where(coverage < 1, coverage * height, thickness) * 1e3
    rate = None
    if previous is not None:
        rate = rate_map(previous.x, x, time_s - previous.time_s)
    particles = []
    for label, bbox in enumerate(boxes, start=1):
        mask = labels[bbox] == label
        origin = np.array([bbox[0].start, bbox[1].start])
        local_axes = particle_axes(mask)
        local_channels = channels(mask, local_axes, coverage=coverage[bbox])
        if not local_channels:
            continue
        axes = replace(local_axes, center=tuple(np.add(local_axes.center, origin).tolist()))
        chans = [Channel(c.index, c.pixels + origin, c.surface) for c in local_channels]
        j_ch = None
        if rate is not None:
            j_ch = channel_current(rate[bbox], local_channels, pixel_size_nm, material_nm[bbox])
        particles.append(
            ParticleResult(
                label,
                bbox,
                mask,
                axes,
                chans,
                surface_composition(x[bbox], local_channels),
                j_ch,
                surface_statistics(x[bbox], mask, local_channels, direction),
            )
        )
    return FrameAnalysis(
        float(time_s),
        od,
        x,
        thickness,
        shift,
        labels,
        rate,
        particles,
        reference,
        coverage,
        rereferenced,
    )
