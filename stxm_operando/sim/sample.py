"""Particles placed in the field of view, rendered as Li-rich and Li-poor thickness maps."""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..physics.particle import PlateletModel


@dataclass
class PlacedParticle:
    """A platelet model at a position in the sample frame.

    Attributes
    ----------
    model : the composition model; its axis 0 is [010], axis 1 is [001].
    center_um : (x, y) of the particle centre in the sample frame, um.
    angle_deg : angle of the [001] axis from the +x axis, degrees.
    thickness_nm : platelet thickness along the beam ([100]), nm.
    """

    model: PlateletModel
    center_um: tuple[float, float]
    angle_deg: float
    thickness_nm: float

    def local_indices(self, x_um: np.ndarray, y_um: np.ndarray) -> np.ndarray:
        """Fractional (i_010, i_001) grid indices of sample-frame points."""
        theta = np.deg2rad(self.angle_deg)
        dx, dy = x_um - self.center_um[0], y_um - self.center_um[1]
        along_001 = dx * np.cos(theta) + dy * np.sin(theta)
        along_010 = -dx * np.sin(theta) + dy * np.cos(theta)
        pixel_um = self.model.pixel_nm / 1e3
        i = along_010 / pixel_um + (self.model.n_010 - 1) / 2
        j = along_001 / pixel_um + (self.model.n_001 - 1) / 2
        return np.stack([i, j])

    def phase_thickness_nm(
        self, x_um: np.ndarray, y_um: np.ndarray, probe_sigma_nm: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Thickness of LiFePO4 and of FePO4 seen by a probe of this sigma at each point, nm."""
        c = self.model.c
        lithiated = np.pad(c * self.thickness_nm, 2)
        delithiated = np.pad((1 - c) * self.thickness_nm, 2)
        sigma_px = probe_sigma_nm / self.model.pixel_nm
        if sigma_px > 0.05:
            lithiated = ndimage.gaussian_filter(lithiated, sigma_px, mode="constant")
            delithiated = ndimage.gaussian_filter(delithiated, sigma_px, mode="constant")
        index = self.local_indices(np.asarray(x_um), np.asarray(y_um)) + 2
        sample = lambda grid: ndimage.map_coordinates(grid, index, order=1, mode="constant")  # noqa: E731
        return sample(lithiated), sample(delithiated)
