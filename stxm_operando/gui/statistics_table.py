"""The statistics table: a column per particle shown, a row per statistic of its frame."""

from qtpy import QtWidgets

from ..live_callbacks import FrameRecord

STATISTICS = {
    "mean_x": "<x>",
    "x_surf": "<x_surf>",
    "x_internal": "<x_int>",
    "active_fraction": "active",
    "transformed_fraction": "transformed",
    "uniformity": "uniformity",
    "mean_j_ch_mA_cm2": "mean j_Ch (mA/cm2)",
}
"""Rows of the statistics table: ``FrameRecord.statistics_row`` keys and their labels."""


class StatisticsTable(QtWidgets.QTableWidget):
    """The frame (counted from 1) and the statistics of each shown particle's frame; its
    columns are sized to their numbers once, when a particle first appears."""

    def __init__(self, parent=None) -> None:
        super().__init__(len(STATISTICS) + 1, 0, parent)
        self.setVerticalHeaderLabels(["frame", *STATISTICS.values()])
        self._headers: list[str] = []

    def show_frames(self, frames: list[FrameRecord]) -> None:
        """A column for each of these frames (one per particle), in their order."""
        headers = [f"particle {f.particle_id}" for f in frames]
        if headers != self._headers:
            self._headers = headers
            self.setColumnCount(len(frames))
            self.setHorizontalHeaderLabels(headers)
        for column, frame in enumerate(frames):
            row = frame.statistics_row()
            values = [frame.frame_index + 1, *(row.get(key, float("nan")) for key in STATISTICS)]
            for index, value in enumerate(values):
                text = f"{value:.3f}" if isinstance(value, float) else str(value)
                item = self.item(index, column)
                if item is None:  # a new column: sized to its numbers once
                    self.setItem(index, column, QtWidgets.QTableWidgetItem(text))
                    self.resizeColumnToContents(column)
                else:
                    item.setText(text)

    def clear_columns(self) -> None:
        """No particle shown (a new run starts)."""
        self.setColumnCount(0)
        self._headers = []
