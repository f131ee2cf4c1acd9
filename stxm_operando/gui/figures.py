"""Static figures (PNG) drawn with pyqtgraph offscreen: Li maps and the voltage curve."""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LI_COLORS = [(0, 150, 0), (235, 220, 40), (210, 0, 0)]
"""Li fraction colour scale as in the paper: green (Li-poor, x=0) to red (Li-rich, x=1)."""


def _application():
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    return pg, pg.mkQApp()


def li_colormap():
    """The red (Li-rich) to green (Li-poor) pyqtgraph colour map of Li fraction."""
    import pyqtgraph as pg

    return pg.ColorMap([0.0, 0.5, 1.0], LI_COLORS)


def li_rgba(x: np.ndarray, colormap=None) -> np.ndarray:
    """RGBA image of a Li fraction map; NaN (no particle) is white."""
    colormap = colormap or li_colormap()
    x = np.asarray(x, dtype=float)
    rgba = colormap.map(np.clip(np.nan_to_num(x, nan=0.0), 0, 1).ravel(), mode="byte")
    rgba = rgba.reshape((*x.shape, 4))
    rgba[np.isnan(x)] = 255
    return rgba


def save_li_maps(
    maps: Sequence[Sequence[np.ndarray]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    path: str | Path,
    scale: int = 6,
) -> Path:
    """Save a grid of Li fraction maps (rows x columns, NaN = no particle) as a PNG."""
    pg, app = _application()
    from pyqtgraph.exporters import ImageExporter

    layout = pg.GraphicsLayoutWidget()
    colormap = li_colormap()
    for r, (row, label) in enumerate(zip(maps, row_labels, strict=True)):
        layout.addLabel(label, row=r, col=0, angle=-90)
        for c, image in enumerate(row):
            view = layout.addViewBox(row=r, col=c + 1, lockAspect=True)
            view.addItem(pg.ImageItem(li_rgba(image, colormap).transpose(1, 0, 2)))
            view.setMouseEnabled(False, False)
    for c, label in enumerate(column_labels):
        layout.addLabel(label, row=len(maps), col=c + 1)
    width = max(300, scale * 45 * len(column_labels))
    layout.resize(width, max(200, scale * 40 * len(maps)))
    layout.show()
    app.processEvents()
    path = Path(path)
    ImageExporter(layout.scene()).export(str(path))
    layout.close()
    return path


def save_voltage_curve(
    time_s: np.ndarray, voltage_V: np.ndarray, path: str | Path, title: str = "cell voltage"
) -> Path:
    """Save voltage against time as a PNG."""
    pg, app = _application()
    from pyqtgraph.exporters import ImageExporter

    plot = pg.PlotWidget(title=title)
    plot.plot(np.asarray(time_s) / 60.0, np.asarray(voltage_V), pen=pg.mkPen("b", width=2))
    plot.setLabel("bottom", "time", units="min")
    plot.setLabel("left", "voltage", units="V")
    plot.resize(800, 450)
    plot.show()
    app.processEvents()
    path = Path(path)
    ImageExporter(plot.plotItem).export(str(path))
    plot.close()
    return path


def save_monitor_screenshot(analysis, path: str | Path) -> Path:
    """Draw the monitor for a filled ``OperandoAnalysis`` (latest frame) and save it as PNG."""
    _, app = _application()
    from .monitor import MonitorWindow

    window = MonitorWindow(analysis=analysis)
    window.show()
    window.refresh()
    app.processEvents()
    path = Path(path)
    window.grab().save(str(path))
    window.close()
    return path
