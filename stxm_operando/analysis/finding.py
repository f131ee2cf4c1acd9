"""Particles in a coarse two-energy image of a field: the thickness map and a box around each."""

from dataclasses import dataclass

import numpy as np

from .masks import particle_mask
from .optical_density import optical_density, unmix_two_energy
from .pipeline import blank_region


@dataclass(frozen=True)
class FoundParticle:
    """A particle's box: centred on the particle (um, in the coordinates of the positions
    the field was given in) and ``num_x`` x ``num_y`` pixels of the field's step."""

    center_x_um: float
    center_y_um: float
    num_x: int
    num_y: int


@dataclass(frozen=True)
class FieldSurvey:
    """What a coarse image of a field shows.

    Attributes
    ----------
    thickness : apparent thickness of each pixel (um), in the image's own rows and columns.
    labels : the particles' pixels, labelled 1, 2, ... (0 elsewhere).
    particles : one box per label, in label order.
    """

    thickness: np.ndarray
    labels: np.ndarray
    particles: list[FoundParticle]


def check_margin(margin_px) -> int:
    """``margin_px`` as a whole number of pixels, 0 or more; else ValueError naming it."""
    whole = isinstance(margin_px, (int, np.integer)) and not isinstance(margin_px, bool)
    if not whole or margin_px < 0:
        raise ValueError(f"margin_px must be a whole number of pixels, 0 or more: {margin_px!r}")
    return int(margin_px)


def survey_field(
    counts_e1,
    counts_e2,
    mu: np.ndarray,
    x_um,
    y_um,
    min_thickness_um: float = 0.05,
    margin_px: int = 4,
) -> FieldSurvey:
    """Find the particles of a field imaged at two energies.

    Parameters
    ----------
    counts_e1, counts_e2 : (h, w) counts at the lower and the higher energy; each image's
        blank membrane (``blank_region``) is its incident flux.
    mu : (2, 2) absorption coefficients (1/um), rows the energies, columns the phases.
    x_um, y_um : (h, w) position of every pixel, um (on the sample holder, say).
    min_thickness_um : thinnest pixel counted as a particle, um.
    margin_px : pixels to spare around each particle in its box (0 or more).

    Returns
    -------
    FieldSurvey
        The thickness map, the labels and a box per particle.

    Examples
    --------
    >>> mu = np.array([[4.0, 6.0], [8.0, 5.0]])
    >>> rows, columns = np.mgrid[0:40, 0:40]
    >>> thickness = np.where((abs(rows - 20) < 4) & (abs(columns - 10) < 6), 0.2, 0.0)
    >>> counts = [1e4 * np.exp(-m.sum() / 2 * thickness) for m in mu]
    >>> survey = survey_field(*counts, mu, columns * 0.04, rows * 0.04, margin_px=2)
    >>> [(round(p.center_x_um, 2), round(p.center_y_um, 2), p.num_x, p.num_y)
    ...  for p in survey.particles]
    [(0.4, 0.8, 15, 11)]
    """
    margin_px = check_margin(margin_px)
    od = [optical_density(c, blank_mask=blank_region(c)) for c in (counts_e1, counts_e2)]
    _, thickness = unmix_two_energy(od[0], od[1], mu)
    labels = particle_mask(thickness, min_thickness=min_thickness_um)
    x_um, y_um = (np.asarray(p, dtype=float) for p in (x_um, y_um))
    particles = []
    for label in range(1, int(labels.max()) + 1):
        rows, columns = np.nonzero(labels == label)
        particles.append(
            FoundParticle(
                float(x_um[rows, columns].mean()),
                float(y_um[rows, columns].mean()),
                int(np.ptp(columns) + 1 + 2 * margin_px),
                int(np.ptp(rows) + 1 + 2 * margin_px),
            )
        )
    return FieldSurvey(thickness, labels, particles)
