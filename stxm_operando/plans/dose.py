"""What the beam did to each particle: exposure, photons and an estimated dose per run."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import bluesky.plan_stubs as bps
import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Signal

from ..devices import Beamline
from ..physics.dose import absorbed_dose_gray
from ..physics.spectra import ReferenceSpectra
from ..streams import DOSE_STREAM
from .estimates import imaging_pass_s, protocol_s
from .lines import ImageReading
from .steps import arm_protocol


def strongest_absorption_per_um(spectra: ReferenceSpectra, energy_eV: float) -> float:
    """The linear absorption (1/um) of the reference spectra's strongest absorber at
    ``energy_eV``: what the dose estimates assume (an upper bound)."""
    return float(np.max(spectra.mu(energy_eV)))


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
        mu = strongest_absorption_per_um(self.spectra, image.energy_eV)
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


@dataclass(frozen=True)
class OperandoBudget:
    """What an operando run will take.

    Attributes
    ----------
    protocol_s : the protocol's longest duration, s (None: a hold only its current ends).
    pass_s : one imaging pass of every particle at every energy, s.
    passes : about how many passes (one per imaging period of each step; None with
        ``protocol_s``).
    dose_per_pass_gray : each particle's dose from one pass, Gy, by particle id.
    """

    protocol_s: float | None
    pass_s: float
    passes: int | None
    dose_per_pass_gray: dict[int, float]

    def dose_gray(self, particle_id: int) -> float | None:
        """The particle's dose over the whole run, Gy (None when the passes are unknown)."""
        if self.passes is None:
            return None
        return self.passes * self.dose_per_pass_gray[particle_id]


def operando_budget(
    beamline: Beamline,
    protocol: Sequence,
    particles: Sequence,
    energies: Sequence[float],
    every_s: float,
    dwell_ms: float,
    step_nm: float,
) -> OperandoBudget:
    """The time and dose of ``operando`` with these (already checked) arguments: the
    protocol's duration and the passes as the plan estimates them, and per particle the
    dose as ``DoseTally`` counts it, with every pixel's dwell at the configured incident
    rate (``detector.i0_rate_hz``, the nominal ring current) spread over its raster."""
    config = beamline.config
    armed = arm_protocol(beamline, protocol)
    duration_s = protocol_s(armed, config.potentiostat.capacity_C)
    passes = None
    if duration_s is not None:
        passes = sum(max(1, math.ceil((a.expected_s or 0.0) / every_s)) for a in armed)
    spectra = ReferenceSpectra.load_default()
    per_pass = {}
    for roi in particles:
        pixels = roi.num_x * roi.num_y
        area_um2 = pixels * (step_nm / 1e3) ** 2
        photons = config.detector.i0_rate_hz * dwell_ms / 1e3 * pixels
        per_pass[roi.particle_id] = sum(
            absorbed_dose_gray(photons, area_um2, e, strongest_absorption_per_um(spectra, e))
            for e in energies
        )
    pass_s = imaging_pass_s(config, particles, energies, step_nm, dwell_ms)
    return OperandoBudget(duration_s, pass_s, passes, per_pass)
