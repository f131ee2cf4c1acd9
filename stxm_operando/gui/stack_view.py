"""The stack viewer: a XANES stack (``stack`` plan) as an image at each energy, with the
spectrum at the cursor."""

import threading
import warnings

import numpy as np
import pyqtgraph as pg
from qtpy import QtCore, QtWidgets

from ..analysis import blank_region, fill_missing, optical_density, place_by_position
from .theme import FIT_COLOR, VOLTAGE_COLOR, pen


class StackCollector:
    """A document callback that keeps the images of a stack run, each placed by its recorded
    positions. Call it from any thread; ``stack`` is safe to read while it fills."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.step_nm = 40.0
        self._images: dict[float, np.ndarray] = {}
        self.title = ""

    def __call__(self, name: str, doc: dict) -> None:
        if name == "start":
            with self._lock:
                self._images.clear()
            self.step_nm = float(doc.get("pixel_size_nm", self.step_nm))
            self.title = f"{doc.get('plan_name', '')} {doc.get('sample', '')} {doc['uid'][:8]}"
        elif name == "event" and "raster_image" in doc["data"]:
            data = doc["data"]
            image = place_by_position(
                data["raster_image"],
                data["raster_x_positions"],
                data["raster_y_positions"],
                self.step_nm,
            )
            with self._lock:
                self._images[float(data["raster_energy"])] = image

    def stack(self) -> tuple[np.ndarray, np.ndarray]:
        """Energies (eV, ascending) and the images (energy, row, column) cut to the shape
        they share."""
        with self._lock:
            energies = np.array(sorted(self._images))
            images = [self._images[e] for e in energies]
        if not images:
            return energies, np.empty((0, 0, 0))
        rows = min(i.shape[0] for i in images)
        columns = min(i.shape[1] for i in images)
        return energies, np.stack([i[:rows, :columns] for i in images])


def stack_optical_density(images: np.ndarray) -> tuple[np.ndarray, str]:
    """Optical density of each image from its own blank region, and the quantity's name;
    the counts themselves (``"counts"``) if an image has no blank region."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # clamped or missing pixels
            od = [fill_missing(optical_density(i, blank_mask=blank_region(i))) for i in images]
    except ValueError:
        return images.astype(float), "counts"
    return np.stack(od), "OD"


class StackViewer(QtWidgets.QWidget):
    """pyqtgraph's ImageView of the stack (energy slider, levels, histogram) beside the
    spectrum at the pixel under the cursor (moving the mouse over the image picks it, and
    ``hovered`` tells its position, um, and value)."""

    hovered = QtCore.Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.image_view = pg.ImageView()
        self.image_view.getView().invertY(True)
        timeline = self.image_view.ui.roiPlot  # the energy slider: tall enough to read
        timeline.setMinimumHeight(120)
        timeline.setLabel("bottom", "energy (eV)")
        timeline.getAxis("bottom").enableAutoSIPrefix(False)
        self.spectrum_plot = pg.PlotWidget(title="spectrum at the cursor")
        self.spectrum_plot.setLabel("bottom", "energy (eV)")
        self.spectrum_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.spectrum_curve = self.spectrum_plot.plot(
            pen=pen(VOLTAGE_COLOR), symbol="o", symbolSize=5, symbolBrush=VOLTAGE_COLOR
        )
        self.energy_line = pg.InfiniteLine(angle=90, pen=pen(FIT_COLOR, 1, dashed=True))
        self.spectrum_plot.addItem(self.energy_line)
        layout.addWidget(self.image_view, 3)
        layout.addWidget(self.spectrum_plot, 2)
        self.energies = np.empty(0)
        self.values = np.empty((0, 0, 0))
        self.quantity = "OD"
        self.step_nm = 40.0
        self.pixel: tuple[int, int] | None = None
        self.image_view.sigTimeChanged.connect(self._energy_changed)
        self.image_view.imageItem.scene().sigMouseMoved.connect(self._mouse_moved)

    def show_stack(self, energies: np.ndarray, images: np.ndarray, step_nm: float) -> None:
        """Show a stack: energies (eV) and images (energy, row, column) of counts, taken
        with pixels of ``step_nm``."""
        self.energies, self.step_nm = np.asarray(energies, dtype=float), step_nm
        if not len(self.energies):
            return
        self.values, self.quantity = stack_optical_density(np.asarray(images, dtype=float))
        self.image_view.setImage(
            self.values, xvals=self.energies, axes={"t": 0, "y": 1, "x": 2}, autoLevels=True
        )
        self.spectrum_plot.setLabel("left", self.quantity)
        rows, columns = self.values.shape[1:]
        self.show_spectrum(rows // 2, columns // 2)

    def show_spectrum(self, row: int, column: int) -> bool:
        """Plot the spectrum of pixel (row, column); False if it is outside the stack."""
        rows, columns = self.values.shape[1:] if self.values.ndim == 3 else (0, 0)
        if not (0 <= row < rows and 0 <= column < columns):
            return False
        self.pixel = (row, column)
        self.spectrum_curve.setData(self.energies, self.values[:, row, column])
        self.spectrum_plot.setTitle(f"{self.quantity} at pixel ({column}, {row})")
        return True

    def shown_energy(self) -> float:
        """The energy of the image shown, eV."""
        return float(self.energies[self.image_view.currentIndex])

    def _energy_changed(self, index: int, _time) -> None:
        self.energy_line.setValue(self.energies[index])

    def _mouse_moved(self, scene_position: QtCore.QPointF) -> None:
        point = self.image_view.imageItem.mapFromScene(scene_position)
        # the ImageView's item is column-major: its x is the column
        row, column = int(np.floor(point.y())), int(np.floor(point.x()))
        if self.show_spectrum(row, column):
            step_um = self.step_nm / 1e3
            value = self.values[self.image_view.currentIndex, row, column]
            self.hovered.emit(
                f"stack ({column * step_um:.2f}, {row * step_um:.2f}) um: "
                f"{self.quantity} = {value:.3g} at {self.shown_energy():.2f} eV"
            )
