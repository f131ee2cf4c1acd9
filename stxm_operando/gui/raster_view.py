"""The raster being flown, drawn line by line as its lines arrive."""

import numpy as np
import pyqtgraph as pg
from qtpy import QtCore

from ..live_callbacks.lines import GrowingImage
from ..streams import particle_id_of
from .panels import grey_colormap, rounded_levels, sample_of


class RasterView(pg.PlotWidget):
    """Counts of the raster being flown (the lines not flown yet are blank) on fine-stage
    axes (um), titled with its particle, energy and how many lines are in."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = self.getPlotItem()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)  # row 0 on top, as the particle panels draw it
        for axis, label in (("bottom", "x"), ("left", "y")):
            self.plot.setLabel(axis, f"fine {label} (um)")
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=grey_colormap(), interactive=False, width=10)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.colorbar.axis.setLabel("counts")
        self.plot.setTitle("no raster yet")
        self.shown: GrowingImage | None = None
        self.rect_um = QtCore.QRectF()
        """Where the image is drawn: the raster's pixels on the fine stage, um."""

    def show_image(self, raster: GrowingImage | None) -> None:
        """Draw ``raster`` (nothing new: left as it is)."""
        if raster is None or raster is self.shown:
            return
        counts = raster.counts()
        (x0, y0), step = raster.first_pixel_um(), raster.step_um
        rows, columns = counts.shape
        rect = QtCore.QRectF(x0 - step / 2, y0 - step / 2, columns * step, rows * step)
        moved, self.rect_um = rect != self.rect_um, rect
        self.shown = raster
        flown = counts[np.isfinite(counts)]
        if flown.size:
            low, high = np.percentile(sample_of(flown), (1, 99))
            self.colorbar.setLevels(rounded_levels(low, max(high, low + 1)))
        self.image.setImage(counts, autoLevels=False)
        self.image.setRect(rect)
        particle = particle_id_of(raster.stream)
        what = f"particle {particle}" if particle is not None else "field"
        self.plot.setTitle(f"{what} at {raster.energy_eV:.1f} eV: {raster.lines}/{rows} lines")
        if moved:  # another raster's place or shape: range on it
            self.plot.autoRange()
