"""Per-channel profiles along [001]: j_Ch and x_surf of each particle, one curve each."""

import pyqtgraph as pg
from qtpy import QtWidgets

from ..live_callbacks import FrameRecord
from .theme import legend_below, particle_color, pen


class ChannelPlots(QtWidgets.QWidget):
    """j_Ch (mA/cm2) above x_surf, against the channel's index along [001], sharing that
    axis; a legend names the particles. Each particle keeps its curves from frame to frame
    (their data change, nothing is rebuilt)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.jch_plot = pg.PlotWidget(title="j_Ch per channel")
        self.jch_plot.setLabel("left", "j_Ch (mA/cm2)")
        self.xsurf_plot = pg.PlotWidget(title="x_surf per channel")
        self.xsurf_plot.setLabel("left", "x_surf")
        self.xsurf_plot.setLabel("bottom", "channel along [001]")
        legend_below(self.jch_plot.getPlotItem(), columns=4)
        self.xsurf_plot.setYRange(0, 1)
        self.xsurf_plot.setXLink(self.jch_plot)
        for plot in (self.jch_plot, self.xsurf_plot):
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)
        column = QtWidgets.QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.jch_plot)
        column.addWidget(self.xsurf_plot)
        self.curves: dict[int, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}

    def show_frames(self, frames: list[FrameRecord]) -> None:
        """Draw the profiles of these frames (one per particle); other particles' curves
        are emptied."""
        drawn = set()
        for frame in frames:
            particle = frame.particle
            if particle is None:
                continue
            jch_curve, xsurf_curve = self._curves(frame.particle_id)
            if particle.j_ch is None:
                jch_curve.setData([], [])
            else:
                jch_curve.setData(particle.j_ch)
            xsurf_curve.setData(particle.x_surf)
            drawn.add(frame.particle_id)
        for particle_id, curves in self.curves.items():
            if particle_id not in drawn:
                for curve in curves:
                    curve.setData([], [])

    def clear(self) -> None:
        """Forget every particle's curves."""
        for jch_curve, xsurf_curve in self.curves.values():
            self.jch_plot.removeItem(jch_curve)
            self.xsurf_plot.removeItem(xsurf_curve)
        self.curves.clear()

    def _curves(self, particle_id: int) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        if particle_id not in self.curves:
            color = particle_color(particle_id)
            style = {"pen": pen(color), "symbol": "o", "symbolSize": 4, "symbolBrush": color}
            self.curves[particle_id] = (
                self.jch_plot.plot(name=f"particle {particle_id}", **style),
                self.xsurf_plot.plot(**style),
            )
        return self.curves[particle_id]
