"""The electrochemistry panel: voltage and current against time, voltage against capacity."""

import numpy as np
import pyqtgraph as pg
from qtpy import QtWidgets

from .theme import (
    CURRENT_COLOR,
    DIRECTION_COLORS,
    MARKER_COLOR,
    VOLTAGE_COLOR,
    fixed_lines,
    legend_below,
    pen,
)

SMALLEST_CURRENT_SPAN_A = 1e-9
"""The current axis never spans less (a constant or zero current has readable ticks)."""


def current_range(current_A: np.ndarray) -> tuple[float, float]:
    """The current axis' range, A: the currents and zero, padded by 10 %, never narrower than
    ``SMALLEST_CURRENT_SPAN_A`` (a rest's zero current gets ticks, not float noise)."""
    finite = current_A[np.isfinite(current_A)]
    low = min(float(finite.min()), 0.0) if finite.size else 0.0
    high = max(float(finite.max()), 0.0) if finite.size else 0.0
    pad = max(0.1 * (high - low), (SMALLEST_CURRENT_SPAN_A - (high - low)) / 2)
    return low - pad, high + pad


class ElectrochemistryPanel(QtWidgets.QWidget):
    """Voltage (V) and current (A) against time (min), sharing the time axis, with a marker
    at the shown frame; voltage against charge / capacity, each direction in its colour; the
    latest V, I and overpotential."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.voltage_plot = pg.PlotWidget(title="voltage")
        self.voltage_plot.setLabel("left", "V", units="V")
        self.voltage_plot.setLabel("bottom", "time (min)")
        self.voltage_curve = self.voltage_plot.plot(pen=pen(VOLTAGE_COLOR))
        self.frame_marker = pg.InfiniteLine(angle=90, pen=pen(MARKER_COLOR, 1, dashed=True))
        self.voltage_plot.addItem(self.frame_marker)
        self.current_plot = pg.PlotWidget(title="current")
        self.current_plot.setLabel("left", "I", units="A")
        self.current_plot.setLabel("bottom", "time (min)")
        for plot in (self.voltage_plot, self.current_plot):  # minutes throughout, never ks
            plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.current_plot.setXLink(self.voltage_plot)
        self.current_curve = self.current_plot.plot(pen=pen(CURRENT_COLOR))
        self.capacity_plot = pg.PlotWidget(title="voltage vs capacity")
        self.capacity_plot.setLabel("bottom", "charge / capacity")
        self.capacity_plot.setLabel("left", "V (V)")
        for side in ("left", "bottom"):
            self.capacity_plot.getAxis(side).enableAutoSIPrefix(False)
        legend_below(self.capacity_plot.getPlotItem(), columns=2)
        self.capacity_curves = {
            direction: self.capacity_plot.plot(pen=pen(colour), connect="finite", name=direction)
            for direction, colour in DIRECTION_COLORS.items()
        }
        self.readings_label = QtWidgets.QLabel("")
        fixed_lines(self.readings_label)
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.voltage_plot, 0, 0)
        grid.addWidget(self.current_plot, 1, 0)
        grid.addWidget(self.capacity_plot, 0, 1, 2, 1)
        grid.addWidget(self.readings_label, 2, 0, 1, 2)

    def show_log(self, ec: dict[str, np.ndarray], capacity_Ah: float, reference_V: float) -> None:
        """Draw the log (``time`` s, ``voltage`` V, ``current`` A, ``charge`` C arrays)."""
        if not ec["time"].size:
            return
        minutes = ec["time"] / 60.0
        self.voltage_curve.setData(minutes, ec["voltage"])
        self.current_curve.setData(minutes, ec["current"])
        self.current_plot.setYRange(*current_range(ec["current"]), padding=0)
        if capacity_Ah > 0:
            capacity = ec["charge"] / (capacity_Ah * 3600.0)
            flowing = np.abs(ec["current"]) >= SMALLEST_CURRENT_SPAN_A / 1e3
            classes = {
                "lithiation": flowing & (ec["current"] > 0),
                "delithiation": flowing & (ec["current"] < 0),
                "rest": ~flowing,
            }
            for direction, curve in self.capacity_curves.items():
                curve.setData(capacity, np.where(classes[direction], ec["voltage"], np.nan))
        voltage, current = ec["voltage"][-1], ec["current"][-1]
        current = 0.0 if abs(current) < SMALLEST_CURRENT_SPAN_A / 1e3 else current
        self.readings_label.setText(
            f"latest reading: V = {voltage:.4f} V, I = {pg.siFormat(current, 3, 'A')}, "
            f"overpotential vs {reference_V} V: {(voltage - reference_V) * 1e3:+.1f} mV"
        )

    def mark_time(self, time_s: float) -> None:
        """Move the frame marker to ``time_s`` (s)."""
        self.frame_marker.setValue(time_s / 60.0)
