"""Keeping each particle centred in its ROI as the sample drifts."""

import logging
from collections.abc import Sequence
from dataclasses import replace

import bluesky.plan_stubs as bps
import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Signal

from ..analysis import particle_centroid_um
from ..devices import Beamline
from ..limits import LimitViolation, stage_placement
from ..streams import TRACKING_STREAM
from .lines import ImageReading

log = logging.getLogger(__name__)


class RoiCentre(Device):
    """Where a particle's ROI is centred for the next pass, and the drift it followed, um."""

    particle_id = Cpt(Signal, value=0, kind="hinted")
    center_x = Cpt(Signal, value=0.0, kind="hinted")
    center_y = Cpt(Signal, value=0.0, kind="hinted")
    moved_x = Cpt(Signal, value=0.0, kind="hinted")
    moved_y = Cpt(Signal, value=0.0, kind="hinted")


class RoiTracker:
    """Re-centres each particle's ROI on the particle before every imaging pass.

    From each particle's image at the first energy it finds where the particle lies
    (``analysis.particle_centroid_um``, in sample-holder coordinates) and moves the ROI so
    the particle sits where it sat in its first image. ``record()`` emits the new centres
    as the ``tracking`` stream (one event per particle). A ROI that would leave the
    stages' reach, or an image with no particle in it, keeps its centre.
    """

    def __init__(
        self, beamline: Beamline, rois: Sequence, energy_eV: float, step_nm: float
    ) -> None:
        self.beamline, self.energy_eV, self.step_nm = beamline, energy_eV, step_nm
        self.rois = list(rois)
        self._anchor: dict[int, np.ndarray] = {}  # particle within its ROI at first sight
        self._moved: dict[int, np.ndarray] = {}
        self.device = RoiCentre(name="tracking")

    def add(self, particle_id: int, image: ImageReading | None) -> None:
        """Take one image (None: simulated without devices)."""
        if image is None or abs(image.energy_eV - self.energy_eV) > 1e-6:
            return
        index = next(k for k, r in enumerate(self.rois) if r.particle_id == particle_id)
        roi = self.rois[index]
        (coarse_x, coarse_y), _ = stage_placement(
            self.beamline.config, roi.center_x_um, roi.center_y_um, roi.num_x, roi.num_y,
            self.step_nm,
        )  # fmt: skip
        try:
            x, y = particle_centroid_um(image.counts, image.x_um + coarse_x, image.y_um + coarse_y)
        except ValueError as err:
            log.warning("particle %s not found in its image, ROI kept: %s", particle_id, err)
            return
        centre = np.array([roi.center_x_um, roi.center_y_um])
        anchor = self._anchor.setdefault(particle_id, np.array([x, y]) - centre)
        new_x, new_y = np.array([x, y]) - anchor
        try:
            stage_placement(self.beamline.config, new_x, new_y, roi.num_x, roi.num_y, self.step_nm)
        except LimitViolation as err:
            log.warning("particle %s drifted out of reach, ROI kept: %s", particle_id, err)
            return
        self._moved[particle_id] = np.array([new_x, new_y]) - centre
        self.rois[index] = replace(roi, center_x_um=float(new_x), center_y_um=float(new_y))

    def record(self):
        """Emit each ROI's centre for the next pass and how far it moved (plan stub)."""
        device = self.device
        for roi in self.rois:
            moved_x, moved_y = self._moved.pop(roi.particle_id, (0.0, 0.0))
            yield from bps.mv(
                device.particle_id,
                roi.particle_id,
                device.center_x,
                roi.center_x_um,
                device.center_y,
                roi.center_y_um,
                device.moved_x,
                float(moved_x),
                device.moved_y,
                float(moved_y),
            )
            yield from bps.trigger_and_read([device], name=TRACKING_STREAM)
