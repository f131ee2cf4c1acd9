"""The stack viewer: a XANES stack (``stack`` plan) as an image at each energy on stage axes
(um), with the spectrum at the cursor, the mean spectrum of a region drawn on the image, its
fit by the two phases' reference spectra with each phase's part overlaid, and the spectra
saved as CSV."""

import csv
import threading
import warnings
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from event_model import DocumentRouter
from qtpy import QtCore, QtWidgets

from ..analysis import blank_region, fill_missing, optical_density, place_by_position
from ..live_callbacks.lines import ImageAssembler
from ..physics.spectra import ReferenceSpectra
from ..streams import DataKeys
from .theme import (
    CURRENT_COLOR,
    DIRECTION_COLORS,
    FIT_COLOR,
    VOLTAGE_COLOR,
    fixed_lines,
    legend_below,
    pen,
)


class StackCollector(DocumentRouter):
    """A document callback that keeps the images of a stack run, each placed by its recorded
    positions. Call it from any thread; ``stack`` is safe to read while it fills."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._assembler = ImageAssembler()
        self.step_nm = 40.0
        self._images: dict[float, np.ndarray] = {}
        self._keys = DataKeys()  # the stack run's, from its start document
        self.title = ""
        self.origin_um = (0.0, 0.0)
        """Stage (x, y) of the images' pixel (0, 0), um: the first image's smallest recorded
        positions, where ``place_by_position`` starts its grid."""

    def __call__(self, name: str, doc: dict) -> None:
        for name_, doc_ in self._assembler(name, doc):
            super().__call__(name_, doc_)

    def start(self, doc: dict) -> None:
        with self._lock:
            self._images.clear()
        self.step_nm = float(doc.get("pixel_size_nm", self.step_nm))
        self._keys = DataKeys.of_start(doc)
        self.title = f"{doc.get('plan_name', '')} {doc.get('sample', '')} {doc['uid'][:8]}"

    def event(self, doc: dict) -> None:
        data = doc["data"]
        if self._keys.key("raster", "image") not in data:
            return
        x_um, y_um = (data[self._keys.key("raster", f"{axis}_positions")] for axis in "xy")
        image = place_by_position(data[self._keys.key("raster", "image")], x_um, y_um, self.step_nm)
        with self._lock:
            if not self._images:
                self.origin_um = (float(np.min(x_um)), float(np.min(y_um)))
            self._images[float(data[self._keys.key("raster", "energy")])] = image

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
    """The stack's image at one energy (an energy slider below it, a colour bar whose ends set
    the levels) beside the spectrum at the pixel under the cursor: moving the mouse over the
    image picks it, and ``hovered`` tells its stage position, um, and value. The image is
    drawn on stage axes (um); the region is drawn and read in um too.

    Built from PlotItem, ImageItem and ColorBarItem like the particle panels: pyqtgraph's
    ImageView registers named views whose destruction can crash the interpreter
    (pyqtgraph#1628)."""

    hovered = QtCore.Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.view = self.graphics.addPlot(title="stack")
        self.view.setAspectLocked(True)
        self.view.invertY(True)  # row 0 on top, as the particle panels draw it
        for axis, label in (("bottom", "x"), ("left", "y")):
            self.view.setLabel(axis, f"stage {label} (um)")
            self.view.getAxis(axis).enableAutoSIPrefix(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=True)
        self.colorbar.setImageItem(self.image, insert_in=self.view)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.energy_label = QtWidgets.QLabel("energy -")
        fixed_lines(self.energy_label)
        self.spectrum_plot = pg.PlotWidget(title="spectrum at the cursor")
        self.spectrum_plot.setLabel("bottom", "energy (eV)")
        self.spectrum_plot.getAxis("bottom").enableAutoSIPrefix(False)
        legend_below(self.spectrum_plot.getPlotItem(), columns=2)
        self.spectrum_curve = self.spectrum_plot.plot(
            pen=pen(VOLTAGE_COLOR), symbol="o", symbolSize=5, symbolBrush=VOLTAGE_COLOR,
            name="pixel",
        )  # fmt: skip
        self.region_curve = self.spectrum_plot.plot(pen=pen(CURRENT_COLOR), name="region mean")
        self.fit_curve = self.spectrum_plot.plot(
            pen=pen(FIT_COLOR, 1, dashed=True), name="reference fit"
        )
        self.phase_curves = [  # each phase's reference spectrum at the thickness fitted
            self.spectrum_plot.plot(pen=pen(DIRECTION_COLORS[direction], 1), name=phase)
            for phase, direction in (("LiFePO4", "lithiation"), ("FePO4", "delithiation"))
        ]
        self.region = pg.RectROI([0, 0], [1, 1], pen=pen(CURRENT_COLOR), movable=True)
        self.region.sigRegionChanged.connect(self.show_region_spectrum)
        self.references = ReferenceSpectra.load_default()
        self.fraction: float | None = None
        """Li fraction of the region from its reference fit (None outside the tables)."""
        self.save_button = QtWidgets.QPushButton("Save spectra ...")
        self.save_button.clicked.connect(self._save_clicked)
        self.energy_line = pg.InfiniteLine(angle=90, pen=pen(FIT_COLOR, 1, dashed=True))
        self.spectrum_plot.addItem(self.energy_line)
        image_column = QtWidgets.QVBoxLayout()
        image_column.addWidget(self.graphics)
        image_column.addWidget(self.energy_label)
        image_column.addWidget(self.slider)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        spectrum_column = QtWidgets.QVBoxLayout()
        spectrum_column.addWidget(self.spectrum_plot)
        spectrum_column.addWidget(self.save_button)
        layout.addLayout(image_column, 3)
        layout.addLayout(spectrum_column, 2)
        self.energies = np.empty(0)
        self.values = np.empty((0, 0, 0))
        self.quantity = "OD"
        self.step_nm = 40.0
        self.origin_um = (0.0, 0.0)
        self.pixel: tuple[int, int] | None = None
        self.slider.valueChanged.connect(self.show_energy)
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)

    def show_stack(
        self,
        energies: np.ndarray,
        images: np.ndarray,
        step_nm: float,
        origin_um: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        """Show a stack: energies (eV) and images (energy, row, column) of counts, taken
        with pixels of ``step_nm``, pixel (0, 0) centred at stage ``origin_um`` (x, y)."""
        self.energies, self.step_nm = np.asarray(energies, dtype=float), step_nm
        self.origin_um = (float(origin_um[0]), float(origin_um[1]))
        if not len(self.energies):
            return
        self.values, self.quantity = stack_optical_density(np.asarray(images, dtype=float))
        finite = self.values[np.isfinite(self.values)]
        if finite.size:
            self.colorbar.setLevels(tuple(float(v) for v in np.percentile(finite, (1, 99))))
        self.spectrum_plot.setLabel("left", self.quantity)
        self.slider.setRange(0, len(self.energies) - 1)
        self.slider.setValue(0)
        self.show_energy(0)
        rows, columns = self.values.shape[1:]
        corner, step_um = self.pixel_to_um(0, 0), self.step_nm / 1e3
        self.image.setRect(QtCore.QRectF(*corner, columns * step_um, rows * step_um))
        self.view.getViewBox().autoRange(padding=0.02)
        self.show_spectrum(rows // 2, columns // 2)
        if self.region.scene() is None:
            self.view.addItem(self.region)
        # the middle half at first
        self.region.setPos(self.pixel_to_um(rows / 4, columns / 4), finish=False)
        self.region.setSize((columns * step_um / 2, rows * step_um / 2))

    def pixel_to_um(self, row: float, column: float) -> tuple[float, float]:
        """Stage (x, y), um, of a point given in pixels: whole numbers are pixels' corners
        (pixel (0, 0) spans 0 to 1), so (row + 0.5, column + 0.5) is a pixel's centre."""
        step_um = self.step_nm / 1e3
        return (
            self.origin_um[0] + (column - 0.5) * step_um,
            self.origin_um[1] + (row - 0.5) * step_um,
        )

    def um_to_pixel(self, x_um: float, y_um: float) -> tuple[float, float]:
        """(row, column) in pixels of stage (x, y), um: ``pixel_to_um`` undone."""
        step_um = self.step_nm / 1e3
        return (
            (y_um - self.origin_um[1]) / step_um + 0.5,
            (x_um - self.origin_um[0]) / step_um + 0.5,
        )

    def region_pixels(self) -> tuple[slice, slice]:
        """The (rows, columns) the region covers, clipped to the stack."""
        rows, columns = self.values.shape[1:]
        (x, y), (width, height) = self.region.pos(), self.region.size()
        top, left = self.um_to_pixel(x, y)
        bottom, right = self.um_to_pixel(x + width, y + height)
        first_column, first_row = max(round(left), 0), max(round(top), 0)
        last_column = min(round(right), columns)
        last_row = min(round(bottom), rows)
        return slice(first_row, max(last_row, first_row + 1)), slice(
            first_column, max(last_column, first_column + 1)
        )

    def region_spectrum(self) -> np.ndarray:
        """Mean of the region's pixels at each energy (the shown quantity)."""
        rows, columns = self.region_pixels()
        return np.nanmean(self.values[:, rows, columns], axis=(1, 2))

    def show_region_spectrum(self) -> None:
        """Draw the region's mean spectrum and, on an OD stack within the reference tables,
        its least-squares fit by the LiFePO4 and FePO4 spectra (thicknesses, um) with the
        Li fraction that gives."""
        if self.values.ndim != 3 or not len(self.energies):
            return
        spectrum = self.region_spectrum()
        self.region_curve.setData(self.energies, spectrum)
        low, high = self.references.energy_range
        inside = (self.energies >= low) & (self.energies <= high) & np.isfinite(spectrum)
        self.fraction = None
        if self.quantity != "OD" or inside.sum() < 3:
            for curve in (self.fit_curve, *self.phase_curves):
                curve.setData([], [])
            return
        mu = self.references.mu_matrix(self.energies[inside])
        thickness_um, *_ = np.linalg.lstsq(mu, spectrum[inside], rcond=None)
        self.fit_curve.setData(self.energies[inside], mu @ thickness_um)
        tabulated = self.references.energy_eV
        shown = tabulated[(tabulated >= self.energies[inside].min())]
        shown = shown[shown <= self.energies[inside].max()]
        for phase, curve in enumerate(self.phase_curves):
            curve.setData(shown, self.references.mu_matrix(shown)[:, phase] * thickness_um[phase])
        total = thickness_um.sum()
        if total > 0:
            self.fraction = float(np.clip(thickness_um[0] / total, 0, 1))
            self.spectrum_plot.setTitle(f"region: {total * 1e3:.0f} nm, x = {self.fraction:.2f}")

    def save_spectra(self, path: str | Path) -> Path:
        """Write energy (eV), the region's mean, its reference fit and the pixel's spectrum
        (the shown quantity) as CSV; the file written."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fit_x, fit_y = self.fit_curve.getData()
        fitted = dict(zip(fit_x, fit_y, strict=True)) if fit_x is not None else {}
        _, pixel = self.spectrum_curve.getData()
        region = self.region_spectrum()
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(
                ["energy_eV", f"region_{self.quantity}", "reference_fit", f"pixel_{self.quantity}"]
            )
            for k, energy in enumerate(self.energies):
                writer.writerow(
                    [
                        energy,
                        region[k],
                        fitted.get(energy, ""),
                        pixel[k] if pixel is not None else "",
                    ]
                )
        return path

    def _save_clicked(self) -> None:
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save spectra", "stack_spectra.csv", "CSV (*.csv)"
        )
        if name:
            self.hovered.emit(f"wrote {self.save_spectra(name)}")

    def show_energy(self, index: int) -> None:
        """Show the image at ``energies[index]``."""
        self.image.setImage(self.values[index], autoLevels=False)
        energy = self.energies[index]
        self.energy_label.setText(f"energy {energy:.2f} eV ({index + 1} of {len(self.energies)})")
        self.view.setTitle(f"{self.quantity} at {energy:.2f} eV")
        self.energy_line.setValue(energy)

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
        return float(self.energies[self.slider.value()])

    def _mouse_moved(self, scene_position: QtCore.QPointF) -> None:
        if not self.view.sceneBoundingRect().contains(scene_position):
            return
        point = self.view.getViewBox().mapSceneToView(scene_position)
        row, column = (int(np.floor(p)) for p in self.um_to_pixel(point.x(), point.y()))
        if self.show_spectrum(row, column):
            x_um, y_um = self.pixel_to_um(row + 0.5, column + 0.5)
            value = self.values[self.slider.value(), row, column]
            self.hovered.emit(
                f"stack at stage ({x_um:.3f}, {y_um:.3f}) um: "
                f"{self.quantity} = {value:.3g} at {self.shown_energy():.2f} eV"
            )
