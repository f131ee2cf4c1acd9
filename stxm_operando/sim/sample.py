"""Particles placed in the field of view, rendered as Li-rich and Li-poor thickness maps."""

from dataclasses import dataclass, field

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
    _blurred: tuple = field(default=(None, None, None), init=False, repr=False, compare=False)

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
        lithiated, delithiated = self._blurred_maps(probe_sigma_nm)
        index = self.local_indices(np.asarray(x_um), np.asarray(y_um)) + 2
        sample = lambda grid: ndimage.map_coordinates(grid, index, order=1, mode="constant")  # noqa: E731
        return sample(lithiated), sample(delithiated)

    def _blurred_maps(self, probe_sigma_nm: float) -> tuple[np.ndarray, np.ndarray]:
        """The (lithiated, delithiated) thickness grids, padded by 2 pixels and blurred by
        the probe; kept until the model's composition or the probe changes (a line takes
        milliseconds, the composition changes once per model step)."""
        steps, sigma, maps = self._blurred
        if steps != self.model.steps or sigma != probe_sigma_nm:
            c = self.model.fraction_map()
            maps = np.pad(c * self.thickness_nm, 2), np.pad((1 - c) * self.thickness_nm, 2)
            sigma_px = probe_sigma_nm / self.model.pixel_nm
            if sigma_px > 0.05:
                maps = tuple(ndimage.gaussian_filter(m, sigma_px, mode="constant") for m in maps)
            self._blurred = (self.model.steps, probe_sigma_nm, maps)
        return maps
