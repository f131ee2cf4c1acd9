"""The control window: regions drawn on the field, the protocol editor, the queue and the
cell's state, all through bluesky-queueserver, so that IPython and every other queue client
see what it queues and can do the same."""

import subprocess
import sys
from dataclasses import asdict

from bluesky_queueserver_api import BPlan
from qtpy import QtCore, QtWidgets

from ...config import BeamlineConfig
from ...devices import simulated_beamline
from ...limits import LimitViolation, stage_placement
from ...live_callbacks import OperandoAnalysis
from ..theme import DIRECTION_COLORS
from .protocol import ProtocolEditor
from .queue_link import QueueLink, QueueSnapshot
from .queue_view import QueueView
from .regions import RegionEditor

DEFAULT_PROTOCOL = [
    {"kind": "Galvanostatic", "c_rate": 1.0, "until_V": 3.2, "duration_s": 1800.0},
    {"kind": "Rest", "duration_s": 600.0},
    {"kind": "Galvanostatic", "c_rate": -1.0, "until_V": 3.7, "duration_s": 1800.0},
]
"""What the editor starts with: a 1C lithiation, a rest, a 1C delithiation."""


class ControlWindow(QtWidgets.QMainWindow):
    """Draw regions, build a protocol, queue and steer it.

    ``link`` talks to the RE manager; ``config`` is the beamline's (the one the queue
    server's startup module uses): the regions and the protocol are checked by the plans'
    own rules on a simulated beamline of that config, which is never driven. ``catalog``
    (optional) gives the newest surveyed field and is where finished runs open from.
    """

    def __init__(self, link: QueueLink, config: BeamlineConfig, catalog=None) -> None:
        super().__init__()
        self.setWindowTitle("stxm-operando control")
        self.link, self.config, self.catalog = link, config, catalog
        self.checker = simulated_beamline(config)
        self.regions = RegionEditor(config)
        self.protocol = ProtocolEditor()
        self.protocol.set_steps(DEFAULT_PROTOCOL)
        self.queue = QueueView(link)
        self.queue.open_run.connect(self.open_run)
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        self.cell = QtWidgets.QLabel("cell: unknown (no worker environment)")
        self.addToolBar(self._cell_bar())
        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        top.addWidget(self._regions_panel())
        top.addWidget(self._protocol_panel())
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 4)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.queue)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.setCentralWidget(splitter)
        self.statusBar().addWidget(self.message, 1)
        self._recheck_timer = QtCore.QTimer(self, singleShot=True, interval=250)
        self._recheck_timer.timeout.connect(self.recheck)
        self.regions.changed.connect(self._recheck_timer.start)
        self.protocol.changed.connect(self._recheck_timer.start)
        link.updated.connect(self.show_cell)
        link.failed.connect(lambda text: self.say(text, error=True))
        link.done.connect(lambda text: self.say(f"{text}: done"))
        self.recheck()

    def say(self, text: str, error: bool = False) -> None:
        """Show ``text`` in the status bar (red for an error)."""
        self.message.setStyleSheet("color: rgb(190, 0, 0)" if error else "")
        self.message.setText(text)

    def recheck(self) -> str:
        """Check the regions and the protocol as the plan will; returns why the run would
        be refused ("" when it would run)."""
        imaging = self.protocol.imaging() if self._imaging_ok() else None
        if imaging is not None:
            self.regions.set_raster(imaging["step_nm"], imaging["dwell_ms"])
        problems = self.regions.problems()
        if problems:
            self.protocol.verdict.setText("refused: " + "; ".join(problems))
            return problems[0]
        if not self.regions.regions:
            self.protocol.verdict.setText("draw at least one region (add region)")
            return "no regions"
        return self.protocol.check(self.checker, self.regions.rois())

    def submit(self) -> bool:
        """Queue an operando run of the drawn regions and the edited protocol, if the plan's
        checks pass (else say why and queue nothing)."""
        refusal = self.recheck()
        if refusal:
            self.say(f"not queued: {refusal}", error=True)
            return False
        item = BPlan(
            "operando",
            self.checker.name,
            self.protocol.steps(),
            [asdict(roi) for roi in self.regions.rois()],
            **self.protocol.imaging(),
        )
        self.link.command("queue operando", lambda: self.link.api.item_add(item))
        return True

    def move_beam_to_target(self) -> None:
        """Move the stages so that the beam is on the target (coarse stage only when the
        fine stage cannot reach it from where the coarse stage rests)."""
        x, y = self.regions.target.pos()
        try:
            (coarse_x, coarse_y), (fine_x, fine_y) = stage_placement(
                self.config, x, y, 1, 1, self.regions.step_nm
            )
        except LimitViolation as err:
            self.say(f"cannot move there: {err}", error=True)
            return
        scanner = self.config.session.names.scanner
        item = BPlan(
            "mv",
            *(f"{scanner}.coarse_x", coarse_x, f"{scanner}.coarse_y", coarse_y),
            *(f"{scanner}.fine_x", fine_x, f"{scanner}.fine_y", fine_y),
        )
        self._execute(f"move beam to ({x:.2f}, {y:.2f}) um", item)

    def jog(self, axis: str, sign: int) -> None:
        """Move the chosen stage along ``axis`` ("x" or "y") by the jog step (um)."""
        stage = self.jog_stage.currentText()
        motor = f"{self.config.session.names.scanner}.{stage}_{axis}"
        distance = sign * self.jog_step.value()
        self._execute(f"jog {motor} by {distance:g} um", BPlan("mvr", motor, distance))

    def load_newest_field(self) -> bool:
        """Show the newest find_particles run of the catalog with its particles as regions."""
        if self.catalog is None:
            self.say("no catalog to read a field from (--catalog)", error=True)
            return False
        uids = self.catalog.search(plan_name="find_particles")
        if not uids:
            self.say(f"no find_particles run in {self.catalog}", error=True)
            return False
        from ...storage.replay import replay

        analysis = OperandoAnalysis()
        replay(self.catalog, uids[-1], analysis)
        self.regions.show_overview(analysis.overview())
        return analysis.overview() is not None

    def show_cell(self, snapshot: QueueSnapshot) -> None:
        """The cell's state from the last poll, coloured while the cell is driven."""
        cell = snapshot.cell
        if cell is None:
            self.cell.setText("cell: unknown (no worker environment)")
            self.cell.setStyleSheet("")
            return
        driven = cell["output"] == 1
        self.cell.setText(
            f"cell: {cell['mode']}, output {'ON' if driven else 'off'}, "
            f"{cell['voltage_V']:.4f} V, {_shown(cell['current_A'] * 1e6)} uA "
            f"(compliance {cell['max_current_A'] * 1e6:g} uA), "
            f"{_shown(cell['charge_C'] * 1e3)} mC"
            + (f", last step ended: {cell['trip_reason']}" if cell["trip_reason"] else "")
        )
        color = DIRECTION_COLORS["lithiation"] if driven else (0, 0, 0)
        self.cell.setStyleSheet(f"color: rgb{color}; font-weight: bold")

    def abort_to_ocv(self) -> None:
        """End the running step now: pause at once, then abort (the plans switch the cell
        to OCV and keep what was recorded)."""
        api = self.link.api
        self.link.command("pause now", lambda: api.re_pause("immediate"))
        self.link.command("abort", lambda: api.re_abort())

    def open_run(self, uid: str) -> None:
        """Open a finished run in the monitor's replay."""
        command = [sys.executable, "-m", "stxm_operando.cli", "replay", uid]
        if self.catalog is not None:
            command += ["--catalog", str(self.catalog.location)]
        subprocess.Popen(command)
        self.say(f"opening run {uid[:8]} in the monitor")

    def closeEvent(self, event) -> None:
        self.link.close()
        super().closeEvent(event)

    def _execute(self, description: str, item: BPlan) -> None:
        self.link.command(description, lambda: self.link.api.item_execute(item))

    def _imaging_ok(self) -> bool:
        try:
            self.protocol.imaging()
            return True
        except ValueError:
            return False

    def _cell_bar(self) -> QtWidgets.QToolBar:
        bar = QtWidgets.QToolBar("cell")
        bar.setMovable(False)
        bar.addWidget(self.cell)
        spacer = QtWidgets.QWidget()
        spacer.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred
        )
        bar.addWidget(spacer)
        self.abort_button = QtWidgets.QPushButton("ABORT: end the step, cell to OCV")
        self.abort_button.setStyleSheet("background: rgb(200, 0, 0); color: white; padding: 4px")
        self.abort_button.clicked.connect(self.abort_to_ocv)
        bar.addWidget(self.abort_button)
        return bar

    def _regions_panel(self) -> QtWidgets.QWidget:
        panel = QtWidgets.QWidget()
        edit = QtWidgets.QHBoxLayout()
        for text, action in (
            ("add region", lambda: self.regions.add_region()),
            ("delete region", self.regions.remove_selected),
            ("newest field", self.load_newest_field),
            ("move beam here", self.move_beam_to_target),
        ):
            button = QtWidgets.QPushButton(text)
            button.clicked.connect(action)
            edit.addWidget(button)
        jog = QtWidgets.QHBoxLayout()
        self.jog_stage = QtWidgets.QComboBox()
        self.jog_stage.addItems(["fine", "coarse"])
        self.jog_step = QtWidgets.QDoubleSpinBox(decimals=3, minimum=0.001, maximum=1000.0)
        self.jog_step.setValue(1.0)
        self.jog_step.setSuffix(" um")
        jog.addWidget(QtWidgets.QLabel("jog"))
        jog.addWidget(self.jog_stage)
        jog.addWidget(self.jog_step)
        for text, axis, sign in (("x-", "x", -1), ("x+", "x", 1), ("y-", "y", -1), ("y+", "y", 1)):
            button = QtWidgets.QPushButton(text)
            button.clicked.connect(lambda _, a=axis, s=sign: self.jog(a, s))
            jog.addWidget(button)
        layout = QtWidgets.QVBoxLayout(panel)
        layout.addWidget(self.regions, stretch=1)
        layout.addLayout(edit)
        layout.addLayout(jog)
        return panel

    def _protocol_panel(self) -> QtWidgets.QWidget:
        panel = QtWidgets.QWidget()
        files = QtWidgets.QHBoxLayout()
        for text, action in (("save protocol", self._save), ("load protocol", self._load)):
            button = QtWidgets.QPushButton(text)
            button.clicked.connect(action)
            files.addWidget(button)
        self.submit_button = QtWidgets.QPushButton("queue operando run")
        self.submit_button.clicked.connect(self.submit)
        files.addWidget(self.submit_button)
        layout = QtWidgets.QVBoxLayout(panel)
        layout.addWidget(self.protocol, stretch=1)
        layout.addLayout(files)
        return panel

    def _save(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "save protocol", "protocol.json", "protocol (*.json *.toml)"
        )
        if path:
            self.say(f"saved {self.protocol.to_file(path)}")

    def _load(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "load protocol", "", "protocol (*.json *.toml)"
        )
        if path:
            self.protocol.from_file(path)
            self.say(f"loaded {path}")


def _shown(value: float) -> str:
    """Three decimals, without a "-0.000" for a reading a hair below zero."""
    return f"{round(value, 3) + 0.0:.3f}"
