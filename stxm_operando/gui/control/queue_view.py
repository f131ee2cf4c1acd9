"""The queue as the RE manager holds it: its state, the queued items, the running one with
its progress, the history with each item's exit status, and the buttons that steer it."""

from qtpy import QtCore, QtWidgets

from .queue_link import QueueLink, QueueSnapshot

QUEUE_COLUMNS = ("plan", "sample", "arguments")
HISTORY_COLUMNS = ("plan", "sample", "exit status", "runs")


def item_summary(item: dict) -> tuple[str, str, str]:
    """A queue item's plan, sample and key arguments, as the tables show them."""
    kwargs = item.get("kwargs", {})
    sample = kwargs.get("sample") or kwargs.get("md", {}).get("sample", "")
    args = item.get("args", [])
    shown = []
    if len(args) > 1 and isinstance(args[1], list):
        shown.append(f"{len(args[1])} steps")
    if len(args) > 2 and isinstance(args[2], list):
        shown.append(f"{len(args[2])} particles")
    shown += [f"{k}={v}" for k, v in kwargs.items() if k in ("every_s", "dwell_ms", "step_nm")]
    return item.get("name", "?"), str(sample), ", ".join(shown) or repr(args)[:60]


class QueueView(QtWidgets.QWidget):
    """Queue, running item and history of the RE manager ``link`` talks to, with its
    controls. ``open_run`` is emitted with a run's uid when a finished item is
    double-clicked; ``confirm(text)`` asks before a halt (replace it to answer otherwise).
    """

    open_run = QtCore.Signal(str)

    def __init__(self, link: QueueLink, parent=None) -> None:
        super().__init__(parent)
        self.link = link
        self.confirm = self._ask
        self.state = QtWidgets.QLabel("RE manager: not reached yet")
        self.state.setWordWrap(True)
        self.progress = QtWidgets.QLabel("")
        self.queue_table = _table(QUEUE_COLUMNS)
        self.history_table = _table(HISTORY_COLUMNS)
        self.history_table.cellDoubleClicked.connect(self._history_clicked)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        api = link.api
        controls = (
            ("open environment", lambda: api.environment_open()),
            ("close environment", lambda: api.environment_close()),
            ("start queue", lambda: api.queue_start()),
            ("stop queue after item", lambda: api.queue_stop()),
            ("pause (deferred)", lambda: api.re_pause("deferred")),
            ("pause now", lambda: api.re_pause("immediate")),
            ("resume", lambda: api.re_resume()),
            ("stop", lambda: api.re_stop()),
            ("abort", lambda: api.re_abort()),
        )
        grid = QtWidgets.QGridLayout()
        for number, (text, call) in enumerate(controls):
            self._button(text, call, grid, number)
        halt = QtWidgets.QPushButton("halt")
        halt.clicked.connect(self.halt)
        self.buttons["halt"] = halt
        grid.addWidget(halt, len(controls) // 5, len(controls) % 5)
        item_buttons = QtWidgets.QHBoxLayout()
        for text, action in (
            ("delete item", self.delete_selected),
            ("item up", lambda: self.move_selected(-1)),
            ("item down", lambda: self.move_selected(1)),
        ):
            button = QtWidgets.QPushButton(text)
            button.clicked.connect(action)
            self.buttons[text] = button
            item_buttons.addWidget(button)
        tables = QtWidgets.QHBoxLayout()
        for title, table in (("queue", self.queue_table), ("history", self.history_table)):
            box = QtWidgets.QGroupBox(title)
            QtWidgets.QVBoxLayout(box).addWidget(table)
            tables.addWidget(box)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(self.progress)
        layout.addLayout(grid)
        layout.addLayout(tables, stretch=1)
        layout.addLayout(item_buttons)
        self.snapshot = QueueSnapshot()
        link.updated.connect(self.show_snapshot)

    def show_snapshot(self, snapshot: QueueSnapshot) -> None:
        """Draw what the manager said at its last poll."""
        self.snapshot = snapshot
        if not snapshot.reachable:
            self.state.setText(f"RE manager not reachable: {snapshot.error}")
            return
        status = snapshot.status
        environment = "open" if status.get("worker_environment_exists") else "closed"
        running = snapshot.running
        running_text = " · running " + " ".join(item_summary(running)[:2]) if running else ""
        self.state.setText(
            f"RE manager {status.get('manager_state')} · RE {status.get('re_state')} · "
            f"environment {environment} · {status.get('items_in_queue', 0)} queued" + running_text
        )
        self.progress.setText(snapshot.progress if running else "")
        _fill(self.queue_table, [item_summary(item) for item in snapshot.queue])
        rows = []
        for item in reversed(snapshot.history):  # newest first
            result = item.get("result", {})
            uids = result.get("run_uids", [])
            status_text = result.get("exit_status", "?")
            if result.get("msg") and status_text != "completed":
                status_text += f": {result['msg'].strip().splitlines()[-1][:80]}"
            rows.append((*item_summary(item)[:2], status_text, " ".join(u[:8] for u in uids)))
        _fill(self.history_table, rows)

    def delete_selected(self) -> None:
        """Remove the selected queue item."""
        item = self._selected()
        if item is not None:
            self.link.command(
                "delete item", lambda: self.link.api.item_remove(uid=item["item_uid"])
            )

    def move_selected(self, offset: int) -> None:
        """Move the selected queue item up (-1) or down (+1)."""
        row = self.queue_table.currentRow()
        item = self._selected()
        target = row + offset
        if item is None or not 0 <= target < len(self.snapshot.queue):
            return
        self.link.command(
            "move item", lambda: self.link.api.item_move(uid=item["item_uid"], pos_dest=target)
        )
        self.queue_table.setCurrentCell(target, 0)

    def halt(self) -> None:
        """Halt the RunEngine (skipping every clean-up but the cell's switch-off), once
        confirmed when a protocol runs."""
        if self.snapshot.running and not self.confirm(
            "Halt the running protocol? The cell is switched off; the plan's other "
            "clean-up is skipped."
        ):
            return
        self.link.command("halt", lambda: self.link.api.re_halt())

    def _button(self, text: str, call, grid: QtWidgets.QGridLayout, number: int) -> None:
        button = QtWidgets.QPushButton(text)
        button.clicked.connect(lambda: self.link.command(text, call))
        self.buttons[text] = button
        grid.addWidget(button, number // 5, number % 5)

    def _selected(self) -> dict | None:
        row = self.queue_table.currentRow()
        return self.snapshot.queue[row] if 0 <= row < len(self.snapshot.queue) else None

    def _history_clicked(self, row: int, _column: int) -> None:
        history = list(reversed(self.snapshot.history))
        uids = history[row].get("result", {}).get("run_uids", []) if row < len(history) else []
        if uids:
            self.open_run.emit(uids[0])

    def _ask(self, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self, "stxm-operando", text)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes


def _table(columns: tuple[str, ...]) -> QtWidgets.QTableWidget:
    table = QtWidgets.QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    return table


def _fill(table: QtWidgets.QTableWidget, rows: list[tuple]) -> None:
    current = table.currentRow()
    table.setRowCount(len(rows))
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            table.setItem(row, column, QtWidgets.QTableWidgetItem(str(value)))
    if 0 <= current < len(rows):
        table.setCurrentCell(current, 0)
