"""The operando monitor: live from 0MQ at beamtime, from the catalog afterwards.

Docks a scientist can rearrange: per-particle raw images, Li map and dx/dt map; the j_Ch
profile with x_surf; j0 against x_surf with the skewed fit; voltage and current against time
and capacity; the statistics table; protocol progress; and a run browser. The window redraws
from a timer (at most 10 Hz), never on every document; the analysis runs on the source's
thread and the j0 fit on a thread of its own, never on the GUI thread.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyqtgraph as pg
from pyqtgraph.dockarea import Dock, DockArea
from qtpy import QtCore, QtWidgets

from ..analysis import fit_j0
from ..live_callbacks import FrameRecord, OperandoAnalysis
from .figures import li_rgba

REDRAW_INTERVAL_MS = 100
STAT_COLUMNS = (
    "particle",
    "frame",
    "<x>",
    "<x_surf>",
    "<x_int>",
    "active",
    "transformed",
    "uniformity",
    "mean j_Ch (mA/cm2)",
)
DIRECTION_COLORS = {
    "lithiation": (210, 30, 30),
    "delithiation": (20, 140, 20),
    "rest": (120, 120, 120),
}


def rate_colormap() -> pg.ColorMap:
    """Diverging map for dx/dt: blue (delithiating), white, red (lithiating)."""
    return pg.ColorMap([0.0, 0.5, 1.0], [(40, 60, 200), (255, 255, 255), (200, 30, 30)])


class ParticlePanel(QtWidgets.QWidget):
    """Raw images at both energies, the Li map and the dx/dt map of one particle."""

    TITLES = ("E1 counts", "E2 counts", "Li fraction x", "dx/dt (1/s)")

    def __init__(self, particle_id: int, parent=None) -> None:
        super().__init__(parent)
        self.particle_id = particle_id
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QtWidgets.QLabel(f"particle {particle_id}")
        self.graphics = pg.GraphicsLayoutWidget()
        layout.addWidget(self.title)
        layout.addWidget(self.graphics)
        self.images: list[pg.ImageItem] = []
        self.views: list[pg.PlotItem] = []
        self.colorbars: dict[int, pg.ColorBarItem] = {}
        for column, title in enumerate(self.TITLES):
            view = self.graphics.addPlot(row=0, col=column, title=title)
            view.setAspectLocked(True)
            view.hideAxis("left")
            view.hideAxis("bottom")
            view.invertY(True)
            item = pg.ImageItem(axisOrder="row-major")
            view.addItem(item)
            self.images.append(item)
            self.views.append(view)
        grey = pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])
        for column, colormap in ((0, grey), (1, grey), (3, rate_colormap())):
            # adjustable levels: drag the bar's ends
            bar = pg.ColorBarItem(colorMap=colormap, interactive=True, width=12)
            bar.setImageItem(self.images[column], insert_in=self.views[column])
            self.colorbars[column] = bar
        self.scale_bar: pg.ScaleBar | None = None
        self.shown_x: np.ndarray | None = None

    def show(self, frame: FrameRecord) -> None:
        """Draw one frame record."""
        for column, counts in enumerate(frame.counts):
            self.images[column].setImage(counts)
            low, high = np.nanpercentile(counts, (1, 99))
            self.colorbars[column].setLevels((float(low), float(max(high, low + 1))))
            if column < len(frame.energies_eV):
                self.views[column].setTitle(f"{frame.energies_eV[column]:.1f} eV counts")
        self.shown_x = frame.li_map
        self.images[2].setImage(li_rgba(self.shown_x))
        rate = frame.analysis.rate
        if rate is None:
            self.images[3].clear()
        else:  # the scale of the particle's own rates, not of a few noisy edge pixels
            finite = np.abs(rate[np.isfinite(rate)])
            limit = max(float(np.percentile(finite, 98)) if finite.size else 0.0, 1e-12)
            self.images[3].setImage(np.nan_to_num(rate))
            self.colorbars[3].setLevels((-limit, limit))
        self._show_scale(frame.pixel_size_nm)
        self.title.setText(
            f"particle {frame.particle_id} - frame {frame.frame_index}, "
            f"{frame.direction}, <x> = {frame.mean_fraction:.3f}"
        )
        super().show()

    def _show_scale(self, pixel_size_nm: float) -> None:
        """A 1 um scale bar on the Li map (images are in pixels)."""
        if self.scale_bar is None:
            self.scale_bar = pg.ScaleBar(size=1e3 / pixel_size_nm, suffix="px")
            self.scale_bar.text.setText("1 um")
            self.scale_bar.setParentItem(self.views[2].getViewBox())
            self.scale_bar.anchor((1, 1), (1, 1), offset=(-10, -10))


class RunBrowser(QtWidgets.QWidget):
    """Search the catalog by metadata (``key=value, ...``) and open a run."""

    open_run = QtCore.Signal(str)

    def __init__(self, catalog, parent=None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        layout = QtWidgets.QVBoxLayout(self)
        self.query = QtWidgets.QLineEdit("plan_name=operando")
        self.query.setPlaceholderText("key=value, key=value (e.g. sample=LFP, direction=...)")
        self.results = QtWidgets.QListWidget()
        search = QtWidgets.QPushButton("Search")
        open_button = QtWidgets.QPushButton("Open")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.query)
        row.addWidget(search)
        layout.addLayout(row)
        layout.addWidget(self.results)
        layout.addWidget(open_button)
        search.clicked.connect(self.search)
        self.query.returnPressed.connect(self.search)
        open_button.clicked.connect(self._open_selected)
        self.results.itemDoubleClicked.connect(
            lambda item: self.open_run.emit(item.data(QtCore.Qt.UserRole))
        )

    def search(self) -> list[str]:
        """Run the query; returns the uids listed."""
        criteria = {}
        for part in filter(None, (p.strip() for p in self.query.text().split(","))):
            key, _, value = part.partition("=")
            criteria[key.strip()] = _parse_value(value.strip())
        self.results.clear()
        uids = self.catalog.search(**criteria)
        for uid in uids:
            start = self.catalog.start(uid)
            item = QtWidgets.QListWidgetItem(
                f"{uid[:8]}  {start.get('plan_name', '')}  {start.get('sample', '')}"
            )
            item.setData(QtCore.Qt.UserRole, uid)
            self.results.addItem(item)
        return uids

    def _open_selected(self) -> None:
        item = self.results.currentItem()
        if item is not None:
            self.open_run.emit(item.data(QtCore.Qt.UserRole))


def _parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class MonitorWindow(QtWidgets.QMainWindow):
    """The monitor. Feed ``analysis`` from a source (``attach``) or pass a filled one."""

    j0_fitted = QtCore.Signal(object, object)
    """(request, future) of a j0 fit done on the fitting thread."""

    def __init__(
        self,
        analysis: OperandoAnalysis | None = None,
        catalog=None,
        title: str = "stxm-operando monitor",
    ) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.live_analysis = analysis or OperandoAnalysis()
        self.analysis = self.live_analysis  # what is shown: live, or a stored run
        self._shown_series: str | None = None
        self.catalog = catalog
        self.sources: list[QtCore.QThread] = []
        self.frames: list[FrameRecord] = []
        self.frame_indices: list[int] = []
        self.panels: dict[int, ParticlePanel] = {}
        self.paused = False
        self.redraws = 0
        self._seen = -1
        self.area = DockArea()
        self.setCentralWidget(self.area)
        self._build_controls()
        self._build_plots()
        if catalog is not None:
            self.browser = RunBrowser(catalog)
            self.browser.open_run.connect(self.open_stored_run)
            self._dock("runs", self.browser, "left", size=(260, 400))
            self.browser.search()
        self._fitter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="j0-fit")
        self._fit_request: tuple | None = None
        self.j0_fitted.connect(self._show_j0_fit)  # queued: delivered on the GUI thread
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(REDRAW_INTERVAL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        screen = QtWidgets.QApplication.primaryScreen().availableGeometry()
        self.resize(min(1500, screen.width()), min(950, screen.height()))  # fits small screens

    # --- layout -------------------------------------------------------------------------------
    def _dock(self, name: str, widget, position: str, relative=None, size=(400, 300)) -> Dock:
        dock = Dock(name, size=size)
        dock.addWidget(widget)
        self.area.addDock(dock, position, relative)
        return dock

    def _build_controls(self) -> None:
        controls = QtWidgets.QWidget()
        layout = QtWidgets.QGridLayout(controls)
        self.progress_label = QtWidgets.QLabel("waiting for documents")
        self.progress_bar = QtWidgets.QProgressBar()
        self.slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.slider.setEnabled(False)
        self.frame_label = QtWidgets.QLabel("frame -")
        self.follow = QtWidgets.QCheckBox("follow latest")
        self.follow.setChecked(True)
        self.pause_button = QtWidgets.QPushButton("Pause display")
        self.pause_button.setCheckable(True)
        layout.addWidget(self.progress_label, 0, 0, 1, 3)
        layout.addWidget(self.progress_bar, 1, 0, 1, 3)
        layout.addWidget(self.frame_label, 2, 0)
        layout.addWidget(self.slider, 2, 1)
        layout.addWidget(self.follow, 2, 2)
        self.live_button = QtWidgets.QPushButton("Show live")
        self.live_button.setEnabled(False)  # enabled while a stored run is shown
        layout.addWidget(self.live_button, 3, 1)
        layout.addWidget(self.pause_button, 3, 2)
        self.slider.valueChanged.connect(self._slider_moved)
        self.pause_button.toggled.connect(self.set_paused)
        self.live_button.clicked.connect(self.show_live)
        self.controls_dock = self._dock("run and protocol", controls, "top", size=(1500, 90))
        self.particle_area = QtWidgets.QWidget()
        self.particle_layout = QtWidgets.QVBoxLayout(self.particle_area)
        self.particles_dock = self._dock(
            "particles", self.particle_area, "bottom", self.controls_dock, size=(900, 500)
        )

    def _build_plots(self) -> None:
        self.jch_plot = pg.PlotWidget(title="j_Ch per channel")
        self.jch_plot.setLabel("left", "j_Ch (mA/cm2)")
        self.jch_plot.setLabel("bottom", "channel along [001]")
        self.xsurf_plot = pg.PlotWidget(title="x_surf per channel")
        self.xsurf_plot.setYRange(0, 1)
        channels = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(channels)
        column.addWidget(self.jch_plot)
        column.addWidget(self.xsurf_plot)
        channel_dock = self._dock("channels", channels, "right", self.particles_dock)
        self.j0_plot = pg.PlotWidget(title="j0~ vs x_surf")
        self.j0_plot.setLabel("bottom", "x_surf")
        self.j0_plot.setLabel("left", "j0 / max")
        self.j0_scatter = pg.ScatterPlotItem(size=6)
        self.j0_plot.addItem(self.j0_scatter)
        self.j0_fit_curve = self.j0_plot.plot(pen=pg.mkPen("k", width=2))
        self._dock("exchange current", self.j0_plot, "bottom", channel_dock)
        self.voltage_plot = pg.PlotWidget(title="voltage")
        self.voltage_plot.setLabel("left", "V", units="V")
        self.voltage_plot.setLabel("bottom", "time", units="s")
        self.voltage_curve = self.voltage_plot.plot(pen=pg.mkPen("b", width=2))
        self.frame_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("k", style=QtCore.Qt.DashLine))
        self.voltage_plot.addItem(self.frame_marker)
        self.current_plot = pg.PlotWidget(title="current")
        self.current_plot.setLabel("left", "I", units="A")
        self.current_curve = self.current_plot.plot(pen=pg.mkPen("m", width=2))
        self.capacity_plot = pg.PlotWidget(title="voltage vs capacity")
        self.capacity_plot.setLabel("bottom", "charge passed / capacity")
        self.capacity_plot.setLabel("left", "V (V)")
        for plot in (self.capacity_plot, self.jch_plot, self.j0_plot):
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)
        self.capacity_curve = self.capacity_plot.plot(pen=pg.mkPen("b", width=2))
        self.overpotential_label = QtWidgets.QLabel("")
        echem = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(echem)
        grid.addWidget(self.voltage_plot, 0, 0)
        grid.addWidget(self.current_plot, 1, 0)
        grid.addWidget(self.capacity_plot, 0, 1, 2, 1)
        grid.addWidget(self.overpotential_label, 2, 0, 1, 2)
        echem_dock = self._dock(
            "electrochemistry", echem, "bottom", self.particles_dock, size=(900, 300)
        )
        self.table = QtWidgets.QTableWidget(0, len(STAT_COLUMNS))
        self.table.setHorizontalHeaderLabels(STAT_COLUMNS)
        self._dock("statistics", self.table, "right", echem_dock)

    # --- sources ------------------------------------------------------------------------------
    def attach(self, source: QtCore.QThread) -> None:
        """Start a document source whose callbacks include this window's analysis."""
        self.sources.append(source)
        source.received.connect(self._source_reported)
        source.start()

    def _source_reported(self, name: str) -> None:
        source = self.sender()
        if name == "error":  # a stored run that could not be read
            self.statusBar().showMessage(f"reading the run failed: {source.error}")
        elif name in ("skipped", "missing", "failed"):
            self.statusBar().showMessage(
                f"live stream: {source.skipped} undecodable messages skipped, "
                f"{source.missing} events missing, {source.failed} not analysed"
                + (f" ({source.error})" if source.error else "")
            )

    def document(self, name: str, doc: dict) -> None:
        """Feed one live document to the live analysis (call from a source's thread)."""
        self.live_analysis(name, doc)

    def open_stored_run(self, uid: str) -> None:
        """Replay a stored run from the catalog into an analysis of its own and show it;
        live documents keep going to the live analysis (``show_live`` returns to it)."""
        from .sources import CatalogDocumentSource

        self.analysis = OperandoAnalysis()
        self._reset_view()
        self.live_button.setEnabled(True)
        self.attach(CatalogDocumentSource(self.catalog, uid, [self.analysis]))

    def show_live(self) -> None:
        """Show the live analysis again."""
        self.analysis = self.live_analysis
        self.live_button.setEnabled(False)
        self._reset_view()

    def _reset_view(self) -> None:
        self._seen = -1
        self._shown_series = None
        for panel in self.panels.values():
            panel.deleteLater()
        self.panels.clear()

    def set_paused(self, paused: bool) -> None:
        """Freeze the display; acquisition and analysis carry on."""
        self.paused = paused
        self.pause_button.setText("Resume display" if paused else "Pause display")
        if not paused:
            self.refresh()

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self._fitter.shutdown(wait=False, cancel_futures=True)
        for source in self.sources:
            source.stop()
        super().closeEvent(event)

    # --- drawing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw if documents arrived since the last redraw (called by the timer)."""
        if self.paused:
            return
        frames, progress, seen = self.analysis.snapshot()
        if seen == self._seen:
            return
        self._seen = seen
        if self.analysis.current_series != self._shown_series:  # a new series: start afresh
            self._reset_view()
            self._seen, self._shown_series = seen, self.analysis.current_series
        self.frames = frames
        failures = self.analysis.failures
        if failures:  # frames skipped; acquisition went on
            self.statusBar().showMessage(f"{len(failures)} frame(s) skipped: {failures[-1]}")
        self.frame_indices = sorted({f.frame_index for f in frames})
        self._show_progress(progress)
        self._show_electrochemistry()
        if self.frame_indices:
            self.slider.blockSignals(True)
            self.slider.setRange(0, len(self.frame_indices) - 1)
            if self.follow.isChecked():
                self.slider.setValue(len(self.frame_indices) - 1)
            self.slider.setEnabled(True)
            self.slider.blockSignals(False)
            self.show_frame(self.frame_indices[self.slider.value()])
        self.redraws += 1

    def _slider_moved(self, position: int) -> None:
        if self.frame_indices:
            self.follow.setChecked(position == len(self.frame_indices) - 1)
            self.show_frame(self.frame_indices[position])

    def frames_at(self, frame_index: int) -> list[FrameRecord]:
        """The latest record of every particle at or before ``frame_index``."""
        latest: dict[int, FrameRecord] = {}
        for frame in self.frames:
            if frame.frame_index <= frame_index:
                latest[frame.particle_id] = frame
        return [latest[k] for k in sorted(latest)]

    def show_frame(self, frame_index: int) -> None:
        """Draw every panel for one imaging pass."""
        shown = self.frames_at(frame_index)
        self.frame_label.setText(f"frame {frame_index}")
        self.jch_plot.clear()
        self.xsurf_plot.clear()
        self.table.setRowCount(len(shown))
        for row, frame in enumerate(shown):
            self._panel(frame.particle_id).show(frame)
            color = pg.intColor(frame.particle_id, hues=6)
            particle = frame.particle
            if particle is not None:
                if particle.j_ch is not None:
                    self.jch_plot.plot(
                        particle.j_ch,
                        pen=color,
                        symbol="o",
                        symbolSize=4,
                        name=f"particle {frame.particle_id}",
                    )
                self.xsurf_plot.plot(particle.x_surf, pen=color, symbol="o", symbolSize=4)
            self._table_row(row, frame)
        if shown:
            self.frame_marker.setValue(shown[-1].analysis.time_s)
        self._show_j0(frame_index)

    def _panel(self, particle_id: int) -> ParticlePanel:
        if particle_id not in self.panels:
            self.panels[particle_id] = ParticlePanel(particle_id)
            self.particle_layout.addWidget(self.panels[particle_id])
        return self.panels[particle_id]

    def _table_row(self, row: int, frame: FrameRecord) -> None:
        values = [frame.particle_id, frame.frame_index, *frame.statistics_row().values()]
        for column, value in enumerate(values):
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            self.table.setItem(row, column, QtWidgets.QTableWidgetItem(text))

    def _show_j0(self, frame_index: int) -> None:
        points = [
            (x, j0, f.direction)
            for f in self.frames
            if f.frame_index <= frame_index and f.j0 is not None and f.particle is not None
            for x, j0 in zip(f.particle.x_surf, f.j0, strict=True)
            if j0 > 0
        ]
        if not points:
            self.j0_scatter.clear()
            self.j0_fit_curve.clear()
            return
        x, j0, directions = zip(*points, strict=True)
        scale = max(j0)
        brushes = [pg.mkBrush(*DIRECTION_COLORS.get(d, (0, 0, 0)), 160) for d in directions]
        self.j0_scatter.setData(x=list(x), y=[v / scale for v in j0], brush=brushes, pen=None)
        request = (id(self.analysis), frame_index, len(points))
        if request != self._fit_request:  # fit on the fitting thread, never on this one
            self._fit_request = request
            future = self._fitter.submit(fit_j0, x, np.array(j0) / scale)
            future.add_done_callback(lambda done: self._fit_finished(request, done))

    def _fit_finished(self, request: tuple, done) -> None:
        """On the fitting thread: hand the fit to the GUI thread."""
        try:
            self.j0_fitted.emit(request, done)
        except RuntimeError:  # the window is gone
            pass

    def wait_for_fits(self) -> None:
        """Wait for the j0 fits asked for so far and draw them (e.g. before a screenshot)."""
        self._fitter.submit(lambda: None).result()
        QtWidgets.QApplication.processEvents()

    def _show_j0_fit(self, request: tuple, done) -> None:
        if request != self._fit_request or done.cancelled():
            return  # a newer fit is on its way, or the window is closing
        try:
            fit = done.result()
        except (ValueError, RuntimeError):
            self.j0_fit_curve.clear()
            return
        grid = np.linspace(0.01, 0.99, 99)
        self.j0_fit_curve.setData(grid, fit(grid))
        self.j0_plot.setTitle(
            f"j0~ vs x_surf: fit x^{fit.a:.2f} (1-x)^{fit.b:.2f}, max at x = {fit.x_max:.2f}"
        )

    def _show_electrochemistry(self) -> None:
        ec = self.analysis.electrochemistry(self.analysis.current_series)
        if not ec["time"].size:
            return
        self.voltage_curve.setData(ec["time"], ec["voltage"])
        self.current_curve.setData(ec["time"], ec["current"])
        capacity_C = self.analysis.progress.capacity_Ah * 3600.0
        if capacity_C > 0:
            self.capacity_curve.setData(ec["charge"] / capacity_C, ec["voltage"])
        eta = ec["voltage"][-1] - self.analysis.reference_V
        self.overpotential_label.setText(
            f"V = {ec['voltage'][-1]:.4f} V, I = {ec['current'][-1]:.3g} A, "
            f"overpotential vs {self.analysis.reference_V} V: {eta * 1e3:+.1f} mV"
        )

    def _show_progress(self, progress) -> None:
        steps = max(len(progress.protocol), 1)
        self.progress_bar.setRange(0, steps)
        self.progress_bar.setValue(steps if progress.finished else progress.step)
        state = "finished" if progress.finished else progress.last_event or "running"
        self.progress_label.setText(
            f"step {progress.step + 1}/{steps}: {progress.label} ({state}); "
            f"t = {progress.time_s / 60:.1f} min; {len(self.frame_indices)} frames"
        )
