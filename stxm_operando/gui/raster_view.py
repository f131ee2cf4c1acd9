"""The raster being flown, drawn line by line as its lines arrive."""

import numpy as np
import pyqtgraph as pg

from ..live_callbacks.lines import GrowingImage
from .panels import grey_colormap, rounded_levels, sample_of


class RasterView(pg.PlotWidget):
    """Counts of the raster being flown (the lines not flown yet are blank), titled with its
    stream, energy and how many lines are in."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = self.getPlotItem()
        self.plot.setAspectLocked(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=grey_colormap(), interactive=False, width=10)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.plot.setTitle("no raster yet")
        self.shown: GrowingImage | None = None

    def show_image(self, raster: GrowingImage | None) -> None:
        """Draw ``raster`` (nothing new: left as it is)."""
        if raster is None or raster is self.shown:
            return
        counts = raster.counts()
        reshaped = self.image.image is None or self.image.image.shape != counts.shape
        self.shown = raster
        flown = counts[np.isfinite(counts)]
        if flown.size:
            low, high = np.percentile(sample_of(flown), (1, 99))
            self.colorbar.setLevels(rounded_levels(low, max(high, low + 1)))
        self.image.setImage(counts, autoLevels=False)
        self.plot.setTitle(
            f"{raster.stream} at {raster.energy_eV:.1f} eV: {raster.lines}/{counts.shape[0]} lines"
        )
        if reshaped:
            self.plot.autoRange()
