"""The run browser: the catalog's runs, newest first, searchable and refreshing itself."""

from datetime import datetime

from qtpy import QtCore, QtWidgets

COLUMNS = ("date", "scan", "plan", "sample", "step", "direction", "C-rate", "uid")
REFRESH_INTERVAL_MS = 5000


def run_row(start: dict) -> tuple[str, ...]:
    """The browser's columns for one run's start document."""
    when = start.get("time")
    date = datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M") if when else ""
    if "c_rate" in start:
        c_rate = f"{start['c_rate']:.2g}"
    else:
        c_rate = ", ".join(f"{rate:.2g}" for rate in start.get("c_rates", ()))
    step = start.get("step_label", "")
    if "protocol_step" in start:
        step = f"{start['protocol_step'] + 1}: {step}"
    return (
        date,
        str(start.get("scan_id", "")),
        str(start.get("plan_name", "")),
        str(start.get("sample", "")),
        step,
        str(start.get("direction", "")),
        c_rate,
        start["uid"][:8],
    )


def parse_query(text: str) -> dict:
    """``key=value, key=value`` as a dict; numbers become int or float."""
    criteria = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        criteria[key.strip()] = _parse_value(value.strip())
    return criteria


def _parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class RunBrowser(QtWidgets.QWidget):
    """Search the catalog by metadata (``key=value, ...``) and open a run (double click or
    Open). The list is redrawn every ``refresh_ms`` when the catalog holds new runs."""

    open_run = QtCore.Signal(str)

    def __init__(self, catalog, refresh_ms: int = REFRESH_INTERVAL_MS, parent=None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.query = QtWidgets.QLineEdit("")
        self.query.setPlaceholderText("key=value, ... (e.g. plan_name=operando, sample=LFP)")
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        search = QtWidgets.QPushButton("Search")
        open_button = QtWidgets.QPushButton("Open")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.query)
        row.addWidget(search)
        row.addWidget(open_button)
        layout.addLayout(row)
        layout.addWidget(self.table)
        search.clicked.connect(self.search)
        self.query.returnPressed.connect(self.search)
        open_button.clicked.connect(self._open_selected)
        self.table.cellDoubleClicked.connect(lambda row, _: self._open_row(row))
        self.uids: list[str] = []
        self._criteria: dict = {}
        self._listed_count = -1
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def search(self) -> list[str]:
        """Run the query typed and list the runs found, newest first; returns their uids."""
        self._criteria = parse_query(self.query.text())
        return self._list()

    def refresh(self) -> None:
        """List the last query's runs again if runs were added since (called by the timer)."""
        try:
            count = self.catalog.count()
        except Exception:  # the catalog is unreachable (e.g. a server restart): next time
            return
        if count != self._listed_count:
            self._list()

    def _list(self) -> list[str]:
        self._listed_count = self.catalog.count()
        starts = self.catalog.starts(**self._criteria)
        starts.sort(key=lambda start: start.get("time", 0), reverse=True)
        selected = self.selected_uid()
        self.uids = [start["uid"] for start in starts]
        self.table.setRowCount(len(starts))
        for row, start in enumerate(starts):
            for column, text in enumerate(run_row(start)):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(start["uid"] if COLUMNS[column] == "uid" else text)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        if selected in self.uids:  # the selection survives a refresh
            self.table.selectRow(self.uids.index(selected))
        return self.uids

    def selected_uid(self) -> str | None:
        """The uid of the selected run, if any."""
        row = self.table.currentRow()
        return self.uids[row] if 0 <= row < len(self.uids) else None

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.uids):
            self.open_run.emit(self.uids[row])

    def _open_selected(self) -> None:
        uid = self.selected_uid()
        if uid is not None:
            self.open_run.emit(uid)
