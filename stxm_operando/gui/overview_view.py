"""The field a find_particles run surveyed: its thickness map on the sample holder (um), with
the box found around each particle."""

import numpy as np
import pyqtgraph as pg
from qtpy import QtCore

from ..live_callbacks.overview import FieldOverview
from .panels import grey_colormap, rounded_levels
from .theme import particle_color, pen


class OverviewView(pg.PlotWidget):
    """Thickness (um) of the newest surveyed field, in holder coordinates (um), each particle
    found boxed and numbered as the ROIs ``find_particles`` returned."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = self.getPlotItem()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)  # row 0 on top, as the particle panels draw it
        for axis, label in (("bottom", "x"), ("left", "y")):
            self.plot.setLabel(axis, f"{label} on the holder (um)")
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=grey_colormap(), interactive=True, width=10)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.colorbar.axis.setLabel("thickness (um)")
        self.colorbar.axis.enableAutoSIPrefix(False)  # um, not a prefixed "mum"
        self.colorbar.axis.setWidth(72)  # ticks such as "0.15" beside the label, not under it
        self.plot.setTitle("no field surveyed yet (find_particles)")
        self.boxes: list[pg.RectROI] = []
        self.labels: list[pg.TextItem] = []
        self.shown: FieldOverview | None = None

    def show_overview(self, overview: FieldOverview | None) -> None:
        """Draw ``overview`` (nothing new: left as it is)."""
        if overview is None or overview is self.shown:
            return
        self.shown = overview
        thickness = overview.thickness
        rows, columns = thickness.shape
        step = overview.step_um
        x0, y0 = overview.origin_um
        self.image.setImage(np.nan_to_num(thickness), autoLevels=False)
        self.image.setRect(QtCore.QRectF(x0 - step / 2, y0 - step / 2, columns * step, rows * step))
        finite = thickness[np.isfinite(thickness)]
        if finite.size:
            high = float(np.percentile(finite, 99.5))
            self.colorbar.setLevels(rounded_levels(0.0, max(high, 0.01)))
        self.draw_particles(overview.particles, step)
        energies = ", ".join(f"{e:.1f}" for e in overview.energies_eV)
        self.plot.setTitle(  # short: the title's width is the plot's narrowest
            f"field {overview.run_uid[:8]} ({energies} eV): "
            f"{len(overview.particles)} particles found"
        )
        self.plot.autoRange(padding=0.02)

    def draw_particles(self, particles: list, step_um: float) -> None:
        """Box and number each particle found (in place of the previous field's)."""
        for item in (*self.boxes, *self.labels):
            self.plot.removeItem(item)
        self.boxes, self.labels = [], []
        for number, found in enumerate(particles):
            width, height = found.num_x * step_um, found.num_y * step_um
            corner = (found.center_x_um - width / 2, found.center_y_um - height / 2)
            color = particle_color(number)
            box = pg.RectROI(corner, (width, height), pen=pen(color), movable=False)
            for handle in box.getHandles():
                box.removeHandle(handle)
            label = pg.TextItem(f"particle {number}", color=color, anchor=(0, 1))
            label.setPos(*corner)
            self.plot.addItem(box)
            self.plot.addItem(label)
            self.boxes.append(box)
            self.labels.append(label)
