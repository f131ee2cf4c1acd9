"""Particle orientation and its pixelated [010] channels."""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ParticleAxes:
    """Orientation of a platelet in the image.

    Attributes
    ----------
    angle_deg : angle of the long axis ([001]) from the +column axis towards +row, degrees.
    center : (row, column) centroid, pixels.
    length_001, length_010 : extent along [001] and [010], pixels.
    """

    angle_deg: float
    center: tuple[float, float]
    length_001: float
    length_010: float

    @property
    def direction_001(self) -> np.ndarray:
        """Unit (row, column) vector along [001]."""
        theta = np.deg2rad(self.angle_deg)
        return np.array([np.sin(theta), np.cos(theta)])

    @property
    def direction_010(self) -> np.ndarray:
        """Unit (row, column) vector along [010] (perpendicular to [001])."""
        theta = np.deg2rad(self.angle_deg)
        return np.array([np.cos(theta), -np.sin(theta)])


@dataclass(frozen=True)
class Channel:
    """One [010] channel: its pixels from one (010) surface to the other.

    Attributes
    ----------
    index : position along [001], 0 at one end of the particle.
    pixels : (n, 2) int array of (row, column), ordered along [010]. All of them count
        for the channel's Li content, thinly covered edge pixels included.
    surface : positions in ``pixels`` of the two surface pixels, the outermost ones that
        are covered enough to read a composition from (by default the first and last).
    ends : (2, 2) int array, the two surface (end) pixels, (row, column).
    interior : (m, 2) int array, the pixels strictly between the two ends.
    """

    index: int
    pixels: np.ndarray
    surface: tuple[int, int] = (0, -1)
    ends: np.ndarray = field(init=False, repr=False, compare=False)
    interior: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        first, last = (position % len(self.pixels) for position in self.surface)
        object.__setattr__(self, "ends", self.pixels.take((first, last), axis=0))
        object.__setattr__(self, "interior", self.pixels[first + 1 : last])


def particle_axes(mask, angle_deg: float | None = None) -> ParticleAxes:
    """Long ([001]) and short ([010]) axes of one particle from its pixel moments.

    Parameters
    ----------
    mask : 2-D bool array
        Pixels of one particle.
    angle_deg : float, optional
        Override the fitted [001] angle (degrees from +column towards +row), e.g. when the
        particle is nearly square or its orientation is known from diffraction.

    Returns
    -------
    ParticleAxes

    Examples
    --------
    >>> m = np.zeros((10, 30), bool); m[3:7, 2:27] = True
    >>> axes = particle_axes(m)
    >>> round(axes.angle_deg, 3), axes.length_001, axes.length_010
    (0.0, 25.0, 4.0)
    """
    rows, cols = np.nonzero(np.asarray(mask, dtype=bool))
    if rows.size == 0:
        raise ValueError("the particle mask is empty")
    center = np.array([rows.mean(), cols.mean()])
    offsets = np.stack([rows, cols], axis=1) - center
    if angle_deg is None:
        covariance = offsets.T @ offsets / len(offsets)
        _, vectors = np.linalg.eigh(covariance)
        long_axis = vectors[:, -1]  # (row, column) of the largest variance
        angle_deg = float(np.degrees(np.arctan2(long_axis[0], long_axis[1])))
        angle_deg = (angle_deg + 90.0) % 180.0 - 90.0
    axes = ParticleAxes(float(angle_deg), (float(center[0]), float(center[1])), 0.0, 0.0)
    along_001 = offsets @ axes.direction_001
    along_010 = offsets @ axes.direction_010
    return ParticleAxes(
        axes.angle_deg, axes.center, float(np.ptp(along_001) + 1), float(np.ptp(along_010) + 1)
    )


MAX_SURFACE_DEPTH_PX = 1.5
"""Farthest a surface pixel may lie inside the channel's outermost pixel, along [010]."""


def channels(
    mask,
    axes: ParticleAxes,
    min_length: int = 3,
    coverage=None,
    min_end_coverage: float = 0.5,
) -> list[Channel]:
    """The particle's pixelated [010] channels.

    Pixels are binned by their position along [001] (one pixel per bin) and ordered along
    [010] inside each bin. A channel's (010) surfaces are its outermost pixels that are
    covered by the particle over at least ``min_end_coverage`` of their footprint: a pixel
    that a face cuts through near its edge holds little of the particle, and its
    composition is mostly counting noise. Without ``coverage`` the first and last pixel
    are the surfaces. A channel whose well-covered pixels start more than
    ``MAX_SURFACE_DEPTH_PX`` inside its outermost pixel is cut lengthwise by a (001) face
    (a corner of the particle), has no resolved (010) surface, and is dropped.

    Parameters
    ----------
    mask : 2-D bool array
        Pixels of one particle.
    axes : ParticleAxes
        From ``particle_axes``.
    min_length : int
        Channels with fewer pixels, or with fewer well-covered pixels, are dropped (they
        have no interior).
    coverage : 2-D array, optional
        Covered fraction of each pixel (``unmix_partial_coverage``).
    min_end_coverage : float
        Least coverage of a surface pixel.

    Returns
    -------
    list of Channel, ordered along [001].

    Examples
    --------
    >>> m = np.zeros((6, 8), bool); m[1:5, 2:7] = True
    >>> chs = channels(m, particle_axes(m, angle_deg=0.0))
    >>> len(chs), chs[0].ends.tolist()
    (5, [[1, 2], [4, 2]])
    >>> cover = np.where(m, 1.0, 0.0); cover[1, :] = 0.3  # the first row is thinly covered
    >>> chs = channels(m, particle_axes(m, angle_deg=0.0), coverage=cover)
    >>> chs[0].ends.tolist(), len(chs[0].pixels)
    ([[2, 2], [4, 2]], 4)
    """
    rows, cols = np.nonzero(np.asarray(mask, dtype=bool))
    if rows.size == 0:
        raise ValueError("the particle mask is empty")
    offsets = np.stack([rows, cols], axis=1) - np.array(axes.center)
    along_001 = offsets @ axes.direction_001
    along_010 = offsets @ axes.direction_010
    covered = (
        np.ones(rows.size, bool)
        if coverage is None
        else np.asarray(coverage, dtype=float)[rows, cols] >= min_end_coverage
    )
    bins = np.round(along_001 - along_001.min()).astype(int)
    # every bin's pixels in a run, ordered along [010] (ties keep their raster order)
    order = np.lexsort((along_010, bins))
    bins, positions, covered = bins[order], along_010[order], covered[order]
    pixels = np.stack([rows[order], cols[order]], axis=1)
    starts = np.flatnonzero(np.diff(bins, prepend=-1))
    stops = np.append(starts[1:], bins.size)
    rank = np.arange(bins.size) - np.repeat(starts, stops - starts)  # position in its bin
    n_covered = np.add.reduceat(covered, starts)
    first = np.minimum.reduceat(np.where(covered, rank, bins.size), starts)
    last = np.maximum.reduceat(np.where(covered, rank, -1), starts)
    keep = (stops - starts >= min_length) & (n_covered >= min(min_length, 2))
    depth = np.maximum(
        positions[starts + np.where(keep, first, 0)] - positions[starts],
        positions[stops - 1] - positions[starts + np.where(keep, last, 0)],
    )
    keep &= depth <= MAX_SURFACE_DEPTH_PX
    return [
        Channel(index, pixels[start:stop], (int(low), int(high)))
        for index, (start, stop, low, high) in enumerate(
            zip(starts[keep], stops[keep], first[keep], last[keep], strict=True)
        )
    ]
