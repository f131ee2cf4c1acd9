"""Exchange current against surface composition, with the skewed fit done off the GUI thread."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyqtgraph as pg
from qtpy import QtCore, QtWidgets

from ..analysis import fit_j0
from ..live_callbacks import FrameRecord
from .theme import DIRECTION_COLORS, FIT_COLOR, fixed_lines, legend_below, pen


class ExchangeCurrentPlot(QtWidgets.QWidget):
    """j0 / max against x_surf, a point per channel and frame coloured by direction (with a
    legend), and the fit of the skewed form x^a (1-x)^b. Fits run on a thread of their own;
    the result is drawn on the GUI thread (``fitted`` is a queued signal)."""

    fitted = QtCore.Signal(object, object)
    """(request, future) of a j0 fit done on the fitting thread."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(title="j0 / its largest, against x_surf")
        self.plot.setLabel("bottom", "x_surf")
        self.plot.setLabel("left", "j0 / max")
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1.05), padding=0.02)  # both are 0-1
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        legend_below(self.plot.getPlotItem(), columns=2)
        self.scatter = {
            direction: pg.ScatterPlotItem(
                size=6, pen=None, brush=pg.mkBrush(*color, 210), name=direction
            )
            for direction, color in DIRECTION_COLORS.items()
        }
        for scatter in self.scatter.values():
            self.plot.addItem(scatter)
        self.fit_curve = self.plot.plot(pen=pen(FIT_COLOR), name="fit")
        self.fit_label = QtWidgets.QLabel("")
        self.fit_label.setWordWrap(True)
        fixed_lines(self.fit_label, 2)
        column = QtWidgets.QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.plot)
        column.addWidget(self.fit_label)
        self._fitter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="j0-fit")
        self._request: tuple | None = None
        self.fitted.connect(self._show_fit)  # queued: delivered on the GUI thread

    def show_points(self, frames: list[FrameRecord], frame_index: int, source: object) -> None:
        """Draw the j0 of every channel of ``frames`` up to ``frame_index`` (of the analysis
        ``source``) and ask for their fit."""
        points = [
            (x, j0, f.direction)
            for f in frames
            if f.frame_index <= frame_index and f.j0 is not None and f.particle is not None
            for x, j0 in zip(f.particle.x_surf, f.j0, strict=True)
            if j0 > 0
        ]
        for scatter in self.scatter.values():
            scatter.clear()
        if not points:
            self.fit_curve.clear()
            self.fit_label.setText("")
            return
        x, j0, directions = (np.array(values) for values in zip(*points, strict=True))
        scaled = j0 / j0.max()
        for direction, scatter in self.scatter.items():
            chosen = directions == direction
            scatter.setData(x=x[chosen], y=scaled[chosen])
        request = (id(source), frame_index, len(points))
        if request != self._request:  # fit on the fitting thread, never on this one
            self._request = request
            future = self._fitter.submit(fit_j0, x, scaled)
            future.add_done_callback(lambda done: self._fit_finished(request, done))

    def wait_for_fits(self) -> None:
        """Wait for the fits asked for so far and draw them (e.g. before a screenshot)."""
        self._fitter.submit(lambda: None).result()
        QtWidgets.QApplication.processEvents()

    def shutdown(self) -> None:
        """Stop fitting (the window is closing)."""
        self._fitter.shutdown(wait=False, cancel_futures=True)

    def _fit_finished(self, request: tuple, done) -> None:
        """On the fitting thread: hand the fit to the GUI thread."""
        try:
            self.fitted.emit(request, done)
        except RuntimeError:  # the window is gone
            pass

    def _show_fit(self, request: tuple, done) -> None:
        if request != self._request or done.cancelled():
            return  # a newer fit is on its way, or the window is closing
        try:
            fit = done.result()
        except (ValueError, RuntimeError) as err:
            self.fit_curve.clear()
            self.fit_label.setText(f"no fit: {err}")
            return
        grid = np.linspace(0.01, 0.99, 99)
        self.fit_curve.setData(grid, fit(grid))
        self.fit_label.setText(
            f"fit: j0 ~ x^{fit.a:.2f} (1-x)^{fit.b:.2f}, largest at x_surf = {fit.x_max:.2f}"
        )
