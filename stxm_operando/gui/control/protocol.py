"""The protocol editor: steps of current, rest and hold in a table, and the imaging settings,
checked as the plan checks them, with the time and dose it will take; saved and loaded as
JSON or TOML."""

import json
import tomllib
from pathlib import Path

from qtpy import QtCore, QtWidgets

from ...plans import ParticleROI, operando
from ...plans.dose import operando_budget
from ...plans.steps import STEP_KINDS, arm_step, as_step
from ...plans.validation import PlanArgumentError

STEP_FIELDS = {
    "c_rate": ("C-rate\n(1/h)", "C-rate, 1/h (positive lithiates)"),
    "current_A": ("I\n(A)", "current, A (instead of a C-rate)"),
    "until_V": ("until\n(V)", "voltage cutoff, V"),
    "until_capacity": ("until Q\n(cell)", "charge passed, as a fraction of the capacity"),
    "duration_s": ("t\n(s)", "duration, s"),
    "voltage_V": ("hold\n(V)", "held voltage, V"),
    "until_current_A": ("until I\n(A)", "the hold ends when |current| falls below, A"),
}
"""Every field of every step kind (``plans.steps``), as the table's columns, with units."""
KIND_FIELDS = {
    kind: [name for name in STEP_FIELDS if name in cls.__dataclass_fields__]
    for kind, cls in STEP_KINDS.items()
}
STEP_NAMES = {"Galvanostatic": "current", "Rest": "rest", "HoldPotential": "hold"}
"""The add-step buttons' short names of the step kinds."""
FE_L3_DEFAULT = "708.2, 710.0"
IMAGING_DEFAULTS = {"every_s": 60.0, "dwell_ms": 1.0, "step_nm": 40.0}


class ProtocolEditor(QtWidgets.QWidget):
    """Steps (one row each: kind, then the fields that kind takes) and the imaging settings
    of an operando run.

    ``steps()`` and ``imaging()`` give what the plan takes (steps as the dicts a queue
    server sends); ``check(beamline, rois)`` runs the plan's own checks (the plans check
    every argument when called, before their first message) and shows what they say;
    ``changed`` is emitted on every edit.
    """

    changed = QtCore.Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.table = QtWidgets.QTableWidget(0, 2 + len(STEP_FIELDS))
        self.table.setHorizontalHeaderLabels(
            ["step", *(short for short, _ in STEP_FIELDS.values()), "check"]
        )
        for column, (_, long_name) in enumerate(STEP_FIELDS.values(), start=1):
            self.table.horizontalHeaderItem(column).setToolTip(long_name)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)  # all in view
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(lambda _: self.changed.emit())
        buttons = QtWidgets.QHBoxLayout()
        for kind in STEP_KINDS:
            button = QtWidgets.QPushButton(f"+ {STEP_NAMES[kind]}")
            button.setToolTip(f"add a {kind} step")
            button.clicked.connect(lambda _, k=kind: self.add_step({"kind": k}))
            buttons.addWidget(button)
        for text, action in (
            ("remove", self.remove_step),
            ("up", lambda: self.move_step(-1)),
            ("down", lambda: self.move_step(1)),
        ):
            button = QtWidgets.QPushButton(text)
            button.clicked.connect(action)
            buttons.addWidget(button)
        self.energies = QtWidgets.QLineEdit(FE_L3_DEFAULT)
        self.every_s = _spin(IMAGING_DEFAULTS["every_s"], 1.0, 3600.0, " s")
        self.dwell_ms = _spin(IMAGING_DEFAULTS["dwell_ms"], 0.01, 1000.0, " ms")
        self.step_nm = _spin(IMAGING_DEFAULTS["step_nm"], 1.0, 10000.0, " nm")
        self.sample = QtWidgets.QLineEdit("LiFePO4")
        self.track_drift = QtWidgets.QCheckBox("re-centre particles")
        self.track_drift.setToolTip("re-centre each particle on its last image before every pass")
        self.track_drift.setChecked(True)
        form = QtWidgets.QGridLayout()
        for number, (label, widget) in enumerate(
            (
                ("energies (eV)", self.energies),
                ("sample", self.sample),
                ("imaging period", self.every_s),
                ("dwell", self.dwell_ms),
                ("pixel size", self.step_nm),
                ("drift", self.track_drift),
            )
        ):
            form.addWidget(QtWidgets.QLabel(label), number // 2, 2 * (number % 2))
            form.addWidget(widget, number // 2, 2 * (number % 2) + 1)
        for line in (self.energies, self.sample):
            line.textChanged.connect(lambda _: self.changed.emit())
        for spin in (self.every_s, self.dwell_ms, self.step_nm):
            spin.valueChanged.connect(lambda _: self.changed.emit())
        self.track_drift.toggled.connect(lambda _: self.changed.emit())
        self.verdict = QtWidgets.QLabel()
        self.verdict.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table, stretch=1)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(self.verdict)

    def add_step(self, step: dict) -> None:
        """Append a step given as the dict the plans take (``kind`` and its fields)."""
        step = dict(step)
        kind = step.pop("kind", None) or type(as_step(step)).__name__
        row = self.table.rowCount()
        self.table.insertRow(row)
        choice = QtWidgets.QComboBox()
        choice.addItems(list(STEP_NAMES.values()))
        choice.setCurrentText(STEP_NAMES[kind])
        choice.setToolTip(", ".join(f"{name}: {k}" for k, name in STEP_NAMES.items()))
        choice.currentTextChanged.connect(lambda _, c=choice: self._kind_changed(c))
        self.table.setCellWidget(row, 0, choice)
        for column, name in enumerate(STEP_FIELDS, start=1):
            value = step.get(name)
            self.table.setItem(row, column, QtWidgets.QTableWidgetItem(_text(value)))
        self.table.setItem(row, len(STEP_FIELDS) + 1, QtWidgets.QTableWidgetItem(""))
        self._enable_fields(row)
        self.changed.emit()

    def set_steps(self, steps: list[dict]) -> None:
        """Replace the table's steps."""
        self.table.setRowCount(0)
        for step in steps:
            self.add_step(step)

    def remove_step(self) -> None:
        """Delete the selected step."""
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self.changed.emit()

    def move_step(self, offset: int) -> None:
        """Move the selected step up (-1) or down (+1)."""
        row = self.table.currentRow()
        steps = self._raw_steps()
        target = row + offset
        if row < 0 or not 0 <= target < len(steps):
            return
        steps.insert(target, steps.pop(row))
        self.set_steps(steps)
        self.table.setCurrentCell(target, 1)

    def steps(self) -> list[dict]:
        """The steps as dicts; PlanArgumentError naming the row and field of a value that
        is not a number."""
        steps = []
        for row, raw in enumerate(self._raw_steps(), start=1):
            step = {"kind": raw.pop("kind")}
            for name, text in raw.items():
                try:
                    step[name] = float(text)
                except ValueError:
                    raise PlanArgumentError(
                        f"step {row}: {name} must be a number, got {text!r}"
                    ) from None
            steps.append(step)
        return steps

    def imaging(self) -> dict:
        """The imaging settings as the plan's keyword arguments (energies in eV)."""
        try:
            energies = [float(e) for e in self.energies.text().replace(",", " ").split()]
        except ValueError:
            raise PlanArgumentError(
                f"energies must be numbers in eV, got {self.energies.text()!r}"
            ) from None
        return {
            "energies": energies,
            "every_s": self.every_s.value(),
            "dwell_ms": self.dwell_ms.value(),
            "step_nm": self.step_nm.value(),
            "sample": self.sample.text(),
            "track_drift": self.track_drift.isChecked(),
        }

    def check(self, beamline, rois: list[ParticleROI]) -> str:
        """Run the plan's checks: each step's (``arm_step``) in its row, then the whole
        plan's with ``rois``; show the plan's verdict with the time and dose it will take,
        and return its message ("" when it would run)."""
        try:
            steps, imaging = self.steps(), self.imaging()
            for row, step in enumerate(steps):
                try:
                    arm_step(beamline, as_step(step))
                    self._mark(row, "")
                except (PlanArgumentError, ValueError) as err:
                    self._mark(row, str(err))
            operando(beamline, steps, rois, **imaging)  # checks all, moves nothing
        except (PlanArgumentError, ValueError) as err:
            self.verdict.setText(f"refused: {err}")
            return str(err)
        self.verdict.setText(budget_text(beamline, steps, rois, imaging))
        return ""

    def to_file(self, path: str | Path) -> Path:
        """Save steps and imaging settings (JSON, or TOML for a .toml name)."""
        path = Path(path)
        content = {"steps": self.steps(), "imaging": self.imaging()}
        if path.suffix == ".toml":
            import tomli_w

            path.write_text(tomli_w.dumps(content))
        else:
            path.write_text(json.dumps(content, indent=2))
        return path

    def from_file(self, path: str | Path) -> None:
        """Load steps and imaging settings saved by ``to_file``."""
        path = Path(path)
        text = path.read_text()
        content = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        self.set_steps(content.get("steps", []))
        imaging = IMAGING_DEFAULTS | content.get("imaging", {})
        self.energies.setText(", ".join(f"{e:g}" for e in imaging.get("energies", [708.2, 710])))
        self.every_s.setValue(imaging["every_s"])
        self.dwell_ms.setValue(imaging["dwell_ms"])
        self.step_nm.setValue(imaging["step_nm"])
        self.sample.setText(imaging.get("sample", "LiFePO4"))
        self.track_drift.setChecked(bool(imaging.get("track_drift", True)))

    def _raw_steps(self) -> list[dict]:
        steps = []
        for row in range(self.table.rowCount()):
            kind = self._kind(row)
            step = {"kind": kind}
            for column, name in enumerate(STEP_FIELDS, start=1):
                text = self.table.item(row, column).text().strip()
                if text and name in KIND_FIELDS[kind]:
                    step[name] = text
            steps.append(step)
        return steps

    def _kind_changed(self, choice: QtWidgets.QComboBox) -> None:
        for row in range(self.table.rowCount()):
            if self.table.cellWidget(row, 0) is choice:
                self._enable_fields(row)
        self.changed.emit()

    def _kind(self, row: int) -> str:
        name = self.table.cellWidget(row, 0).currentText()
        return next(kind for kind, short in STEP_NAMES.items() if short == name)

    def _enable_fields(self, row: int) -> None:
        kind = self._kind(row)
        for column, name in enumerate(STEP_FIELDS, start=1):
            item = self.table.item(row, column)
            flags = QtCore.Qt.ItemFlag.ItemIsSelectable | QtCore.Qt.ItemFlag.ItemIsEnabled
            if name in KIND_FIELDS[kind]:
                flags |= QtCore.Qt.ItemFlag.ItemIsEditable
            else:
                item.setText("")
                flags = QtCore.Qt.ItemFlag.NoItemFlags
            item.setFlags(flags)

    def _mark(self, row: int, message: str) -> None:
        item = self.table.item(row, len(STEP_FIELDS) + 1)
        item.setText(message or "ok")
        item.setToolTip(message)
        item.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)


def budget_text(beamline, steps: list[dict], rois: list[ParticleROI], imaging: dict) -> str:
    """The run's time and each particle's dose, as the editor shows them."""
    budget = operando_budget(
        beamline,
        steps,
        rois,
        imaging["energies"],
        imaging["every_s"],
        imaging["dwell_ms"],
        imaging["step_nm"],
    )
    if budget.protocol_s is None:
        length = "length unknown (a hold ends when its current falls)"
    else:
        length = f"at most {budget.protocol_s / 3600:.2f} h, about {budget.passes} passes"
    doses = ", ".join(
        f"{pid}: {_gray(budget.dose_gray(pid), budget.dose_per_pass_gray[pid])}"
        for pid in sorted(budget.dose_per_pass_gray)
    )
    return f"ready: {length} of {budget.pass_s:.0f} s each; dose per particle {doses}"


def _gray(total: float | None, per_pass: float) -> str:
    return f"{per_pass / 1e6:.2g} MGy per pass" if total is None else f"{total / 1e6:.3g} MGy"


def _spin(value: float, low: float, high: float, suffix: str) -> QtWidgets.QDoubleSpinBox:
    spin = QtWidgets.QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(2)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin


def _text(value) -> str:
    return "" if value is None else f"{value:g}"
