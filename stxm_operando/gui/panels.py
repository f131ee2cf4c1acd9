"""The images of one particle in one imaging pass, with levels, a scale bar and a readout."""

from functools import partial

import numpy as np
import pyqtgraph as pg
from qtpy import QtCore, QtWidgets

from ..live_callbacks import FrameRecord
from .theme import FOREGROUND, fixed_lines, li_colormap, particle_color


def rate_colormap() -> pg.ColorMap:
    """Diverging map for dx/dt: blue (delithiating), white, red (lithiating)."""
    return pg.ColorMap([0.0, 0.5, 1.0], [(40, 60, 200), (255, 255, 255), (200, 30, 30)])


def grey_colormap() -> pg.ColorMap:
    return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])


def sample_of(image: np.ndarray, pixels: int = 20000) -> np.ndarray:
    """Every n-th pixel of ``image``, about ``pixels`` of them: enough for display levels."""
    return image.ravel()[:: max(1, image.size // pixels)]


def rounded_levels(low: float, high: float) -> tuple[float, float]:
    """``low`` rounded down and ``high`` up to a tenth of their span's order of magnitude,
    so levels (and their colour bar's axis) change only when the image really does.

    >>> rounded_levels(1234.5, 4321.0)
    (1200.0, 4400.0)
    """
    if not high - low > 0:  # NaN (nothing measured) or no span: as they are
        return float(low), float(high)
    unit = 10.0 ** (np.floor(np.log10(high - low)) - 1)
    return float(np.floor(low / unit) * unit), float(np.ceil(high / unit) * unit)


class ParticlePanel(QtWidgets.QWidget):
    """Raw images at both energies, the Li map and the dx/dt map of one particle.

    Each image has a colour bar whose ends set its levels (they follow each frame until
    dragged by hand); the Li map carries a 1 um scale bar. Moving the mouse over any image
    emits ``hovered`` with the position (um from the image's corner), the Li fraction and the
    counts at both energies there.
    """

    TITLES = ("E1 counts", "E2 counts", "Li fraction x", "dx/dt (1/s)")
    hovered = QtCore.Signal(str)

    def __init__(self, particle_id: int, parent=None) -> None:
        super().__init__(parent)
        self.particle_id = particle_id
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.title = QtWidgets.QLabel(f"particle {particle_id}")
        red, green, blue = particle_color(particle_id)
        self.title.setStyleSheet(f"color: rgb({red}, {green}, {blue}); font-weight: bold")
        fixed_lines(self.title)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(120)
        layout.addWidget(self.title)
        layout.addWidget(self.graphics)
        self.images: list[pg.ImageItem] = []
        self.views: list[pg.PlotItem] = []
        for column, title in enumerate(self.TITLES):
            view = self.graphics.addPlot(row=0, col=column, title=title)
            view.setAspectLocked(True)
            view.hideAxis("left")
            view.hideAxis("bottom")
            view.invertY(True)
            view.disableAutoRange()  # ranged when the image's shape changes, not every frame
            item = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
            view.addItem(item)
            self.images.append(item)
            self.views.append(view)
        self.colorbars: dict[int, pg.ColorBarItem] = {}
        for column, colormap in ((0, grey_colormap()), (1, grey_colormap()), (3, rate_colormap())):
            bar = pg.ColorBarItem(colorMap=colormap, interactive=True, width=10)
            bar.setImageItem(self.images[column], insert_in=self.views[column])
            bar.sigLevelsChangeFinished.connect(partial(self._levels_set_by_hand, column))
            self.colorbars[column] = bar
        self.automatic_levels = set(self.colorbars)
        """Columns whose levels follow each frame (until their bar is dragged)."""
        self.li_lut = li_colormap().getLookupTable(0.0, 1.0, 256)  # NaN (no particle) is clear
        li_bar = pg.ColorBarItem(values=(0, 1), colorMap=li_colormap(), interactive=False, width=10)
        self.views[2].layout.addItem(li_bar, 2, 5)  # a legend of the Li map's fixed scale
        self.views[2].layout.setColumnFixedWidth(4, 5)
        self.scale_bar: pg.ScaleBar | None = None
        self.frame: FrameRecord | None = None
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)

    def show(self, frame: FrameRecord) -> None:
        """Draw one frame record."""
        previous, self.frame = self.frame, frame
        reshaped = previous is None or previous.counts[0].shape != frame.counts[0].shape
        retitled = previous is None or previous.energies_eV != frame.energies_eV
        for column, counts in enumerate(frame.counts):
            self.images[column].setImage(counts, autoLevels=False)
            if column in self.automatic_levels:
                low, high = np.nanpercentile(sample_of(counts), (1, 99))
                self._set_levels(column, rounded_levels(low, max(high, low + 1)))
            if retitled and column < len(frame.energies_eV):
                self.views[column].setTitle(f"{frame.energies_eV[column]:.1f} eV counts")
        self.images[2].setImage(frame.li_map, levels=(0.0, 1.0), lut=self.li_lut)
        rate = frame.analysis.rate
        if rate is None:
            self.images[3].clear()
        else:
            self.images[3].setImage(np.nan_to_num(rate), autoLevels=False)
        if rate is not None and 3 in self.automatic_levels:
            # the scale of the particle's own rates, not of a few noisy edge pixels
            finite = np.abs(sample_of(rate)[np.isfinite(sample_of(rate))])
            limit = max(float(np.percentile(finite, 98)) if finite.size else 0.0, 1e-12)
            self._set_levels(3, rounded_levels(-limit, limit))
        if reshaped:  # every image has the counts' shape, whether drawn yet or not (dx/dt)
            rows, columns = frame.counts[0].shape
            for view in self.views:
                view.setRange(xRange=(0, columns), yRange=(0, rows), padding=0.02)
        self._show_scale(frame.pixel_size_nm)
        self.title.setText(
            f"particle {frame.particle_id} - frame {frame.frame_index + 1}, "
            f"{frame.direction}, <x> = {frame.mean_fraction:.3f}"
        )
        super().show()

    def clear(self) -> None:
        """Forget the frame shown and hide (the panel waits for a next run's particle)."""
        self.frame = None
        for image in self.images:
            image.clear()
        self.automatic_levels = set(self.colorbars)
        self.hide()

    def _set_levels(self, column: int, levels: tuple[float, float]) -> None:
        if tuple(self.colorbars[column].levels()) != levels:  # else its axis is kept as drawn
            self.colorbars[column].setLevels(levels)

    def _levels_set_by_hand(self, column: int, _bar=None) -> None:
        self.automatic_levels.discard(column)

    def _show_scale(self, pixel_size_nm: float) -> None:
        """A 1 um scale bar on the Li map (images are in pixels)."""
        if self.scale_bar is None:
            self.scale_bar = pg.ScaleBar(size=1e3 / pixel_size_nm, suffix="px")
            self.scale_bar.text.setText("1 um")
            self.scale_bar.text.setColor(FOREGROUND)
            self.scale_bar.setParentItem(self.views[2].getViewBox())
            self.scale_bar.anchor((1, 1), (1, 1), offset=(-10, -10))

    def readout(self, row: int, column: int) -> str:
        """What is at pixel (row, column) of the shown frame: its stage position (um, as the
        encoders recorded it), Li fraction and counts at each energy; '' outside the image."""
        frame = self.frame
        if frame is None or not (
            0 <= row < frame.counts[0].shape[0] and 0 <= column < frame.counts[0].shape[1]
        ):
            return ""
        counts = ", ".join(
            f"{energy:.1f} eV: {image[row, column]:.0f} counts"
            for energy, image in zip(frame.energies_eV, frame.counts, strict=False)
        )
        x = frame.li_map[row, column] if row < frame.li_map.shape[0] else np.nan
        stage_x, stage_y = frame.stage_position_um(row, column)
        return (
            f"particle {frame.particle_id} at stage ({stage_x:.3f}, {stage_y:.3f}) um: "
            f"x = {x:.2f}; {counts}"
        )

    def _mouse_moved(self, scene_position) -> None:
        for view in self.views:
            if view.sceneBoundingRect().contains(scene_position):
                point = view.getViewBox().mapSceneToView(scene_position)
                text = self.readout(int(np.floor(point.y())), int(np.floor(point.x())))
                if text:
                    self.hovered.emit(text)
                return
