"""Surface and internal composition statistics of a particle (paper Fig. 5b/5c)."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .channels import Channel
from .masks import map_and_mask

ACTIVE_RANGE = (0.15, 0.85)
"""Li fractions counted as an active (not yet transformed) surface, inclusive."""

DIRECTIONS = ("lithiation", "delithiation")


@dataclass(frozen=True)
class SurfaceStatistics:
    """Composition statistics of one particle at one time.

    Attributes
    ----------
    mean_surface : <x_surf>, mean Li fraction of the channel end pixels.
    mean_internal : <x_internal>, mean of the pixels between the channel ends.
    active_fraction : surface pixels with 0.15 <= x <= 0.85.
    transformed_fraction : surface pixels past 0.85 (lithiation) or below 0.15 (delithiation).
    uniformity : 1 - <|x - <x>|> / (2 <x> (1 - <x>)); 1 = uniform, 0 = fully phase separated.
    solid_solution_fraction : particle pixels with 0.15 < x < 0.85.
    """

    mean_surface: float
    mean_internal: float
    active_fraction: float
    transformed_fraction: float
    uniformity: float
    solid_solution_fraction: float


def surface_statistics(
    x, mask, channel_list: Sequence[Channel], direction: str
) -> SurfaceStatistics:
    """Statistics of the reacting surface against the interior of one particle.

    Parameters
    ----------
    x : 2-D array
        Li fraction map.
    mask : 2-D bool array
        Pixels of the particle.
    channel_list : sequence of Channel
        Its [010] channels; their end pixels form the reacting surface.
    direction : "lithiation" or "delithiation"

    Examples
    --------
    >>> from stxm_operando.analysis.channels import channels, particle_axes
    >>> m = np.ones((5, 4), bool); x = np.full((5, 4), 0.4); x[[0, -1], :] = 0.9
    >>> s = surface_statistics(x, m, channels(m, particle_axes(m, 0.0)), "lithiation")
    >>> round(s.mean_surface, 3), round(s.mean_internal, 3), s.transformed_fraction
    (0.9, 0.4, 1.0)
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    x, mask = map_and_mask(x, mask, "x")
    if not channel_list:
        raise ValueError("no channels: the particle is too small to have a surface")
    surface, between = np.zeros_like(mask), np.zeros_like(mask)
    ends = np.concatenate([channel.ends for channel in channel_list])
    interior = np.concatenate([channel.interior for channel in channel_list])
    surface[ends[:, 0], ends[:, 1]] = True
    between[interior[:, 0], interior[:, 1]] = True
    surface &= mask
    # the interior lies between a channel's surfaces; thin pixels outside them are neither
    internal = mask & between & ~surface
    x_surface, x_particle = x[surface], x[mask]
    low, high = ACTIVE_RANGE
    active = (x_surface >= low) & (x_surface <= high)
    transformed = x_surface >= high if direction == "lithiation" else x_surface <= low
    mean = np.nanmean(x_particle)
    spread = np.nanmean(np.abs(x_particle - mean))
    uniformity = 1 - spread / (2 * mean * (1 - mean)) if 0 < mean < 1 else 1.0
    return SurfaceStatistics(
        mean_surface=float(np.nanmean(x_surface)),
        mean_internal=float(np.nanmean(x[internal])) if internal.any() else float("nan"),
        active_fraction=float(active.mean()),
        transformed_fraction=float(transformed.mean()),
        uniformity=float(uniformity),
        solid_solution_fraction=float(((x_particle > low) & (x_particle < high)).mean()),
    )
