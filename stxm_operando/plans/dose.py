"""What the beam did to each particle: exposure, photons and an estimated dose per run."""

from collections.abc import Sequence

import bluesky.plan_stubs as bps
import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Signal

from ..devices import Beamline
from ..physics.dose import absorbed_dose_gray
from ..physics.spectra import ReferenceSpectra
from ..streams import DOSE_STREAM
from .lines import ImageReading


class ParticleDose(Device):
    """A particle's totals over a run: exposure (s), photons, estimated dose (Gy)."""

    particle_id = Cpt(Signal, value=0, kind="hinted")
    exposure = Cpt(Signal, value=0.0, kind="hinted")
    photons = Cpt(Signal, value=0.0, kind="hinted")
    gray = Cpt(Signal, value=0.0, kind="hinted")


class DoseTally:
    """Adds up each particle's exposure from the shutter's readings with its images, and
    records the totals as the ``dose`` stream: one event per particle at the end of a run
    (their sum is the run's).

    The dose assumes the photons spread evenly over the raster and the strongest absorber
    of the reference spectra at that energy (an upper bound), at LiFePO4's density.
    """

    def __init__(self, beamline: Beamline, rois: Sequence, step_nm: float) -> None:
        self.beamline, self.step_nm = beamline, step_nm
        self.areas_um2 = {r.particle_id: r.num_x * r.num_y * (step_nm / 1e3) ** 2 for r in rois}
        self.totals = {pid: np.zeros(3) for pid in self.areas_um2}
        self.spectra = ReferenceSpectra.load_default()
        self.device = ParticleDose(name="dose")

    def add(self, particle_id: int, image: ImageReading | None) -> None:
        """Count one image (None, as from a plan simulated without devices, counts
        nothing)."""
        if image is None:
            return
        mu = float(np.max(self.spectra.mu(image.energy_eV)))
        gray = absorbed_dose_gray(image.photons, self.areas_um2[particle_id], image.energy_eV, mu)
        self.totals[particle_id] += (image.exposure_s, image.photons, gray)

    def record(self):
        """Emit the totals, one event per particle (plan stub)."""
        device = self.device
        for particle_id, (exposure, photons, gray) in self.totals.items():
            yield from bps.mv(
                device.particle_id,
                particle_id,
                device.exposure,
                exposure,
                device.photons,
                photons,
                device.gray,
                gray,
            )
            yield from bps.trigger_and_read([device], name=DOSE_STREAM)
