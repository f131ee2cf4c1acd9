"""Regions to image, drawn on the field: the newest surveyed field (a find_particles run) in
holder coordinates (um), a box per particle that the user moves, resizes, adds and deletes,
each checked at once by the rule the plans check rasters by (``limits.place_raster``)."""

from dataclasses import dataclass

import pyqtgraph as pg
from qtpy import QtCore
from qtpy.QtCore import Signal

from ...config import BeamlineConfig
from ...limits import LimitViolation, place_raster
from ...plans import ParticleROI
from ..overview_view import OverviewView
from ..theme import MARKER_COLOR, particle_color, pen

REFUSED_COLOR = (215, 0, 0)
"""Colour of a region the stages or the detector cannot image."""
NEW_REGION_UM = 1.5
"""Width and height of a region added by hand, um."""


@dataclass(eq=False)
class Region:
    """One drawn region: its particle id, box (a pyqtgraph ROI in um), label, and why it
    cannot be imaged ("" when it can)."""

    particle_id: int
    box: pg.RectROI
    label: pg.TextItem
    problem: str = ""


class RegionEditor(OverviewView):
    """The field with editable regions, a beam target and the stages' reach.

    ``step_nm`` and ``dwell_ms`` are the raster's pixel size and dwell the regions are
    checked with (``set_raster``); ``changed`` is emitted whenever a region is added,
    moved, resized or removed. The dashed grey box is where the coarse stage can take the
    middle of a raster; the target (drag it) is where "move beam here" moves to.
    """

    changed = Signal()

    def __init__(self, config: BeamlineConfig, parent=None) -> None:
        super().__init__(parent)
        self.config = config
        self.step_nm, self.dwell_ms = 40.0, 1.0
        self.regions: list[Region] = []
        self.selected: Region | None = None
        low, high = config.stage.coarse_travel_um
        reach = pg.RectROI((low, low), (high - low, high - low), movable=False, resizable=False)
        reach.setPen(pen(MARKER_COLOR, width=1, dashed=True))
        for handle in reach.getHandles():
            reach.removeHandle(handle)
        self.plot.addItem(reach, ignoreBounds=True)  # the view follows the field, not this
        self.target = pg.TargetItem(pos=(0.0, 0.0), size=14, movable=True, label="beam target")
        self.plot.addItem(self.target, ignoreBounds=True)
        fine = config.stage.fine_travel_um
        self.plot.setRange(xRange=fine, yRange=fine, padding=0.02)  # what the fine stage reaches
        self.plot.setTitle("no field yet: add regions, or run find_particles")

    def set_raster(self, step_nm: float, dwell_ms: float) -> None:
        """Check every region again at this pixel size (nm) and dwell (ms)."""
        self.step_nm, self.dwell_ms = step_nm, dwell_ms
        for region in self.regions:
            self._check(region)

    def draw_particles(self, particles: list, step_um: float) -> None:
        """The particles found become the regions (in place of the ones drawn before)."""
        for region in list(self.regions):
            self.remove_region(region)
        for found in particles:
            self.add_region(
                found.center_x_um, found.center_y_um, found.num_x * step_um, found.num_y * step_um
            )

    def add_region(
        self,
        center_x_um: float | None = None,
        center_y_um: float | None = None,
        width_um: float = NEW_REGION_UM,
        height_um: float = NEW_REGION_UM,
    ) -> Region:
        """A new region centred at (x, y) um (the middle of the view by default), numbered
        with the lowest particle id not taken."""
        if center_x_um is None or center_y_um is None:
            center = self.plot.getViewBox().viewRect().center()
            center_x_um, center_y_um = center.x(), center.y()
        taken = {r.particle_id for r in self.regions}
        particle_id = next(i for i in range(len(taken) + 1) if i not in taken)
        corner = (center_x_um - width_um / 2, center_y_um - height_um / 2)
        box = pg.RectROI(corner, (width_um, height_um), pen=pen(particle_color(particle_id)))
        box.setAcceptedMouseButtons(QtCore.Qt.MouseButton.LeftButton)
        label = pg.TextItem(anchor=(0, 1))
        region = Region(particle_id, box, label)
        box.sigRegionChanged.connect(lambda _: self._moved(region))
        box.sigClicked.connect(lambda *_: self.select(region))
        self.plot.addItem(box)
        self.plot.addItem(label)
        self.regions.append(region)
        self._check(region)
        self.select(region)
        self.changed.emit()
        return region

    def remove_region(self, region: Region) -> None:
        """Delete ``region`` from the field."""
        self.plot.removeItem(region.box)
        self.plot.removeItem(region.label)
        self.regions.remove(region)
        if self.selected is region:
            self.selected = None
        self.changed.emit()

    def remove_selected(self) -> None:
        """Delete the region last clicked or added."""
        if self.selected is not None:
            self.remove_region(self.selected)

    def select(self, region: Region) -> None:
        """Mark ``region`` as the one "delete region" removes (drawn thicker)."""
        self.selected = region
        for other in self.regions:
            self._draw(other)

    def pixels(self, region: Region) -> tuple[int, int]:
        """The region's raster size in pixels at ``step_nm``: (num_x, num_y)."""
        width, height = region.box.size()
        return (
            max(1, round(width * 1e3 / self.step_nm)),
            max(1, round(height * 1e3 / self.step_nm)),
        )

    def center_um(self, region: Region) -> tuple[float, float]:
        """The region's middle on the holder, um."""
        corner, size = region.box.pos(), region.box.size()
        return corner[0] + size[0] / 2, corner[1] + size[1] / 2

    def rois(self) -> list[ParticleROI]:
        """The regions as the plans take them, in particle id order."""
        rois = []
        for region in sorted(self.regions, key=lambda r: r.particle_id):
            x, y = self.center_um(region)
            rois.append(ParticleROI(region.particle_id, x, y, *self.pixels(region)))
        return rois

    def problems(self) -> list[str]:
        """Why regions cannot be imaged, one line per refused region."""
        return [f"particle {r.particle_id}: {r.problem}" for r in self.regions if r.problem]

    def _moved(self, region: Region) -> None:
        self._check(region)
        self.changed.emit()

    def _check(self, region: Region) -> None:
        num_x, num_y = self.pixels(region)
        x, y = self.center_um(region)
        try:
            place_raster(self.config, x, y, num_x, num_y, self.step_nm, self.dwell_ms)
            region.problem = ""
        except LimitViolation as err:
            region.problem = str(err)
        self._draw(region)

    def _draw(self, region: Region) -> None:
        num_x, num_y = self.pixels(region)
        width = 4 if region is self.selected else 2
        if region.problem:
            color = REFUSED_COLOR
            region.box.setPen(pen(color, width=width, dashed=True))
            text = f"particle {region.particle_id}: refused"
        else:
            color = particle_color(region.particle_id)
            region.box.setPen(pen(color, width=width))
            text = f"particle {region.particle_id}: {num_x} x {num_y} px"
        region.label.setText(text, color=color)
        region.label.setPos(*region.box.pos())
        region.box.setToolTip(region.problem or text)
