"""The operando monitor: live from 0MQ at beamtime, from the catalog afterwards.

Docks a scientist can rearrange: per-particle raw images, Li map and dx/dt map; the raster
being flown, line by line; the field find_particles surveyed, with the particles found; the
j_Ch profile with x_surf; j0 against x_surf with the skewed fit; voltage and current against
time and capacity; the statistics table; protocol progress; a run browser and, for ``stack``
runs, a stack viewer. The window fits a 1280x800 screen. It redraws from a timer (at most
10 Hz), never on every document; the analysis runs on the source's thread and the j0 fit on
a thread of its own, never on the GUI thread.
"""

from functools import partial

import numpy as np
from pyqtgraph.dockarea import Dock, DockArea
from qtpy import QtCore, QtWidgets

from ..live_callbacks import FrameRecord, OperandoAnalysis
from ..live_callbacks.series import duration_text
from ..storage import CatalogError, UnknownRunError
from .browser import RunBrowser
from .channel_plots import ChannelPlots
from .electrochem_panel import ElectrochemistryPanel
from .exchange_plot import ExchangeCurrentPlot
from .overview_view import OverviewView
from .panels import ParticlePanel
from .raster_view import RasterView
from .sources import ZmqDocumentSource
from .stack_view import StackCollector, StackViewer
from .statistics_table import StatisticsTable
from .theme import apply_theme

REDRAW_INTERVAL_MS = 100


class MonitorWindow(QtWidgets.QMainWindow):
    """The monitor. Feed ``analysis`` from a source (``attach``) or pass a filled one."""

    def __init__(
        self,
        analysis: OperandoAnalysis | None = None,
        catalog=None,
        title: str = "stxm-operando monitor",
    ) -> None:
        super().__init__()
        apply_theme()
        self.setWindowTitle(title)
        self.live_analysis = analysis or OperandoAnalysis()
        self.analysis = self.live_analysis  # what is shown: live, or a stored run
        self._shown_series: str | None = None
        self.catalog = catalog
        self.sources: list[QtCore.QThread] = []
        self.frames: list[FrameRecord] = []
        self.frame_indices: list[int] = []
        self.panels: dict[int, ParticlePanel] = {}
        """The panels of the particles shown; others wait, hidden, in ``_spare_panels``."""
        self._spare_panels: dict[int, ParticlePanel] = {}
        self.paused = False
        self.redraws = 0
        self._seen = -1
        self.area = DockArea()
        self.setCentralWidget(self.area)
        self.cursor_label = QtWidgets.QLabel("")
        self.connection_label = QtWidgets.QLabel("")
        """The live stream's state: waiting for its address, or the documents received."""
        self._live_address: str | None = None
        self._reading = None  # the stored run's source while it is being read
        self.statusBar().addPermanentWidget(self.cursor_label)
        self.statusBar().addPermanentWidget(self.connection_label)
        self._build_controls()
        self._build_plots()
        self.stack_viewer: StackViewer | None = None  # docked when a stack is opened
        if catalog is not None:
            self.browser = RunBrowser(catalog)
            self.browser.open_run.connect(self.open_stored_run)
            self.runs_dock = self._dock("runs", self.browser, "above", self.particles_dock)
            self.particles_dock.raiseDock()
            self.browser.search()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(REDRAW_INTERVAL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        screen = QtWidgets.QApplication.primaryScreen().availableGeometry()
        self.resize(min(1500, screen.width()), min(950, screen.height()))  # fits small screens
        self.docks = dict(self.area.findAll()[1])
        """The window's docks by name."""

    # --- layout -------------------------------------------------------------------------------
    def _dock(self, name: str, widget, position: str, relative=None, size=(400, 300)) -> Dock:
        dock = Dock(name, size=size)
        dock.addWidget(widget)
        self.area.addDock(dock, position, relative)
        return dock

    def _build_controls(self) -> None:
        controls = QtWidgets.QWidget()
        layout = QtWidgets.QGridLayout(controls)  # the protocol above, the frame shown below
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setVerticalSpacing(2)
        self.progress_label = QtWidgets.QLabel("waiting for documents")
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setMaximumWidth(160)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setMinimumWidth(120)
        self.frame_label = QtWidgets.QLabel("frame -")
        for label in (self.progress_label, self.frame_label):  # long text never widens it
            label.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.follow = QtWidgets.QCheckBox("follow latest")
        self.follow.setChecked(True)
        self.pause_button = QtWidgets.QPushButton("Pause display")
        self.pause_button.setCheckable(True)
        self.live_button = QtWidgets.QPushButton("Show live")
        self.live_button.setEnabled(False)  # enabled while a stored run is shown
        layout.addWidget(self.progress_label, 0, 0, 1, 4)
        layout.addWidget(self.progress_bar, 0, 4, 1, 2)
        layout.addWidget(self.frame_label, 1, 0)
        layout.addWidget(self.slider, 1, 1, 1, 2)
        for column, widget in enumerate((self.follow, self.live_button, self.pause_button), 3):
            layout.addWidget(widget, 1, column)
        layout.setColumnStretch(0, 3)
        layout.setColumnStretch(1, 2)
        self.slider.valueChanged.connect(self._slider_moved)
        self.pause_button.toggled.connect(self.set_paused)
        self.live_button.clicked.connect(self.show_live)
        controls.setMaximumHeight(controls.sizeHint().height())
        self.controls_dock = self._dock("run and protocol", controls, "top", size=(1500, 30))
        self.controls_dock.hideTitleBar()
        self.particle_area = QtWidgets.QWidget()
        self.particle_layout = QtWidgets.QVBoxLayout(self.particle_area)
        self.particle_layout.setContentsMargins(0, 0, 0, 0)
        scroll = QtWidgets.QScrollArea()  # many particles scroll, never squeeze
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.particle_area)
        self.particles_dock = self._dock(
            "particles", scroll, "bottom", self.controls_dock, size=(900, 420)
        )

    def _build_plots(self) -> None:
        self.channels = ChannelPlots()
        channels_dock = self._dock(
            "channels", self.channels, "right", self.particles_dock, size=(450, 420)
        )
        self.raster = RasterView()
        self._dock("raster", self.raster, "above", channels_dock, size=(450, 420))
        self.overview = OverviewView()
        self.overview_dock = self._dock("field", self.overview, "above", channels_dock)
        channels_dock.raiseDock()
        self.electrochemistry = ElectrochemistryPanel()
        echem_dock = self._dock(
            "electrochemistry", self.electrochemistry, "bottom", size=(580, 330)
        )
        self.exchange = ExchangeCurrentPlot()
        j0_dock = self._dock(
            "exchange current", self.exchange, "right", echem_dock, size=(340, 330)
        )
        self.table = StatisticsTable()
        self.statistics_dock = self._dock(
            "statistics", self.table, "right", j0_dock, size=(340, 330)
        )

    # --- sources ------------------------------------------------------------------------------
    def attach(self, source: QtCore.QThread) -> None:
        """Start a document source whose callbacks include this window's analysis."""
        if isinstance(source, ZmqDocumentSource):
            self._live_address = source.address
            self._show_connection()
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
        live documents keep going to the live analysis (``show_live`` returns to it). A
        ``stack`` run opens in the stack viewer."""
        from .sources import CatalogDocumentSource

        try:
            plan_name = self.catalog.start(uid).get("plan_name")
        except (UnknownRunError, CatalogError) as err:
            self.statusBar().showMessage(f"reading the run failed: {err}")
            return
        if plan_name == "stack":
            collector = StackCollector()
            source = CatalogDocumentSource(self.catalog, uid, [collector])
            source.finished.connect(partial(self._show_stack, collector))  # all that was read
        else:
            self.analysis = OperandoAnalysis()
            self.particles_dock.raiseDock()
            self._reset_view()
            self.live_button.setEnabled(True)
            source = CatalogDocumentSource(self.catalog, uid, [self.analysis])
        self._reading = source
        source.finished.connect(partial(self._read, source))
        self.statusBar().showMessage(f"reading run {uid[:8]} from the catalog ...")
        self.attach(source)

    def _show_stack(self, collector: StackCollector) -> None:
        if self.stack_viewer is None:
            self.stack_viewer = StackViewer()
            self.stack_viewer.hovered.connect(self.cursor_label.setText)
            self.stack_dock = self._dock("stack", self.stack_viewer, "above", self.particles_dock)
            self.docks["stack"] = self.stack_dock
        self.stack_viewer.show_stack(*collector.stack(), collector.step_nm, collector.origin_um)
        self.stack_dock.setTitle(collector.title)
        self.stack_dock.raiseDock()

    def show_live(self) -> None:
        """Show the live analysis again."""
        self.analysis = self.live_analysis
        self.live_button.setEnabled(False)
        self._reset_view()

    def _reset_view(self) -> None:
        self._seen = -1
        self._shown_series = None
        self.channels.clear()
        self.table.clear_columns()
        for particle_id, panel in self.panels.items():
            panel.clear()  # kept for the next run: deleting pyqtgraph views mid-session crashes
            self._spare_panels[particle_id] = panel
        self.panels.clear()

    def set_paused(self, paused: bool) -> None:
        """Freeze the display; acquisition and analysis carry on."""
        self.paused = paused
        self.pause_button.setText("Resume display" if paused else "Pause display")
        if not paused:
            self.refresh()

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self.exchange.shutdown()
        for source in self.sources:
            source.stop()
        super().closeEvent(event)

    # --- drawing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw if documents arrived since the last redraw (called by the timer)."""
        if self.paused:
            return
        self._show_connection()
        if self._reading is not None:  # a stored run is being read: how far it has come
            self.statusBar().showMessage(
                f"reading run {self._reading.uid[:8]} from the catalog: "
                f"{self._reading.documents} documents ..."
            )
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
        self.raster.show_image(self.analysis.growing_image())
        overview = self.analysis.overview()
        if overview is not None and overview is not self.overview.shown:  # a field surveyed
            self.overview.show_overview(overview)
            self.overview_dock.raiseDock()
        if self.frame_indices:
            self.slider.blockSignals(True)
            self.slider.setRange(0, len(self.frame_indices) - 1)
            if self.follow.isChecked():
                self.slider.setValue(len(self.frame_indices) - 1)
            self.slider.setEnabled(True)
            self.slider.blockSignals(False)
            self.show_frame(self.frame_indices[self.slider.value()])
        self.redraws += 1

    def _read(self, source) -> None:
        """A stored run has been read: say so (its panels fill on the next redraw)."""
        if self._reading is source:
            self._reading = None
        if source.error is None:
            self.statusBar().showMessage(
                f"run {source.uid[:8]}: {source.documents} documents read", 10000
            )

    def _show_connection(self) -> None:
        """The live stream's state in the status bar (and, before anything came, the top)."""
        if self._live_address is None:
            return
        received = self.live_analysis.documents_seen
        if received:
            self.connection_label.setText(f"live {self._live_address}: {received} documents")
        else:
            text = f"waiting for documents from {self._live_address}"
            self.connection_label.setText(f"live {self._live_address}: waiting")
            if self.analysis is self.live_analysis:
                self.progress_label.setText(text)

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
        self.frame_label.setText(self._frame_readout(frame_index, shown))
        self.channels.show_frames(shown)
        self.table.show_frames(shown)
        for frame in shown:
            self._panel(frame.particle_id).show(frame)
        if shown:
            self.electrochemistry.mark_time(shown[-1].analysis.time_s)
        self.exchange.show_points(self.frames, frame_index, self.analysis)

    def _frame_readout(self, frame_index: int, shown: list[FrameRecord]) -> str:
        """The shown frame, counted from 1, with its time, the cell's voltage and current
        then and the particles' <x>: what the scrubbed frame was, not the newest."""
        position = (
            self.frame_indices.index(frame_index) + 1 if frame_index in self.frame_indices else 0
        )
        text = f"frame {position}/{len(self.frame_indices)}"
        if not shown:
            return text
        time_s = shown[-1].analysis.time_s
        log = self.analysis.electrochemistry(self.analysis.current_series)
        current = np.interp(time_s, log["time"], log["current"]) if len(log["time"]) else np.nan
        mean_x = ", ".join(f"{f.mean_fraction:.2f}" for f in shown)
        return (
            f"{text}: {duration_text(time_s - self.analysis.progress.started_s.get(0, 0.0))}, "
            f"{shown[-1].voltage_V:.3f} V, {current * 1e6:+.2f} uA, <x> {mean_x}"
        )

    def _panel(self, particle_id: int) -> ParticlePanel:
        if particle_id not in self.panels:
            panel = self._spare_panels.pop(particle_id, None)
            if panel is None:
                panel = ParticlePanel(particle_id)
                panel.hovered.connect(self.cursor_label.setText)
                self.particle_layout.addWidget(panel)
            self.panels[particle_id] = panel
        return self.panels[particle_id]

    def wait_for_fits(self) -> None:
        """Wait for the j0 fits asked for so far and draw them (e.g. before a screenshot)."""
        self.exchange.wait_for_fits()

    def _show_electrochemistry(self) -> None:
        self.electrochemistry.show_log(
            self.analysis.electrochemistry(self.analysis.current_series),
            self.analysis.progress.capacity_Ah,
            self.analysis.reference_V,
        )

    def _show_progress(self, progress) -> None:
        """The protocol's step and its time: elapsed and left (beamline clock), the bar by
        time, not by steps."""
        steps = max(len(progress.protocol), 1)
        elapsed, left = progress.elapsed_s, progress.left_s
        self.progress_bar.setRange(0, 1000)
        if left is None:  # no estimate: by steps
            self.progress_bar.setValue(round(1000 * progress.step / steps))
            remaining = "time left unknown"
        else:
            self.progress_bar.setValue(round(1000 * elapsed / max(elapsed + left, 1e-9)))
            remaining = f"at most {duration_text(left)} left"
        state = "finished" if progress.finished else progress.last_event or "running"
        self.progress_label.setText(
            f"step {progress.step + 1}/{steps}: {progress.label} ({state}); "
            f"{duration_text(elapsed)} elapsed, {remaining}; {len(self.frame_indices)} frames"
        )
