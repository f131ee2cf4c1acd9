"""Static figures (PNG) drawn with pyqtgraph offscreen: Li maps and the voltage curve (the
paper's figures are ``paper_figure``, a campaign's cross-run figure ``campaign_figure``)."""

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _application():
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    from .theme import apply_theme, match_display_font, prepare_qt

    prepare_qt()
    apply_theme(antialias=True)
    app = pg.mkQApp()
    match_display_font(app)
    return pg, app


def li_rgba(x: np.ndarray, colormap=None) -> np.ndarray:
    """RGBA image of a Li fraction map; NaN (no particle) is white."""
    from .theme import li_colormap

    colormap = colormap or li_colormap()
    x = np.asarray(x, dtype=float)
    rgba = colormap.map(np.clip(np.nan_to_num(x, nan=0.0), 0, 1).ravel(), mode="byte")
    rgba = rgba.reshape((*x.shape, 4))
    rgba[np.isnan(x)] = 255
    return rgba


def output_folder(folder: str | Path) -> Path:
    """``folder``, created if need be, once a file has been written in it and removed: call
    it before long work whose figures go there. OSError naming it otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise OSError(f"cannot write in {folder}: {err.strerror or err}") from None
    return folder


def _writable(path: str | Path) -> Path:
    """``path`` with its folder created (OSError if it cannot be), any old file removed: a
    figure is reported written only if this save wrote it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


def _written(path: Path) -> Path:
    """``path``, which the save just wrote (Qt reports a failed save by a return value that
    pyqtgraph's exporters drop): OSError if it did not."""
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"the figure {path} could not be written")
    return path


def _export(
    widget, item, path: str | Path, pdf: str | Path | None = None, svg: str | Path | None = None
) -> Path:
    """Show ``widget`` offscreen, save ``item`` (its scene or a plot item) as PNG and, with
    ``pdf`` and ``svg``, the widget's scene as vector PDF and SVG of the same layout; close
    it. OSError if a file was not written."""
    from pyqtgraph.exporters import ImageExporter, SVGExporter

    path = _writable(path)
    widget.show()
    _application()[1].processEvents()
    ImageExporter(item).export(str(path))
    if pdf is not None:
        _export_pdf(widget, _writable(pdf))
    if svg is not None:
        SVGExporter(widget.scene()).export(str(_writable(svg)))
        _written(Path(svg))
    widget.close()
    return _written(path)


def _export_pdf(widget, path: Path) -> Path:
    """The widget's scene painted into a PDF page of its own size (vector: text stays text)."""
    from qtpy import QtCore, QtGui

    size = widget.size()
    writer = QtGui.QPdfWriter(str(path))
    writer.setResolution(96)
    writer.setPageSize(
        QtGui.QPageSize(QtCore.QSizeF(size.width(), size.height()), QtGui.QPageSize.Unit.Point)
    )
    writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
    painter = QtGui.QPainter(writer)
    target = QtCore.QRectF(0, 0, writer.width(), writer.height())
    widget.scene().render(painter, target, QtCore.QRectF(widget.rect()))
    painter.end()
    return _written(path)


def nice_length_um(width_um: float) -> float:
    """A round scale-bar length (0.1, 0.2, 0.5, 1, 2 ... um) of about a third of ``width_um``.

    >>> nice_length_um(1.2), nice_length_um(5.0), nice_length_um(0.3)
    (0.5, 2.0, 0.1)
    """
    target = max(width_um, 1e-3) / 3
    decade = 10 ** np.floor(np.log10(target))
    return float(max(m for m in (1, 2, 5, 10) if m * decade <= target * 1.0001) * decade)


def add_li_map_grid(
    layout,
    maps: Sequence[Sequence[np.ndarray | None]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    pixel_nm: float,
    captions: Sequence[Sequence[str]] | None = None,
) -> None:
    """Draw a grid of Li fraction maps (rows x columns; NaN = no particle, None = no map) into
    a pyqtgraph ``GraphicsLayout``: every map in um on one scale, a 1-2-5 um scale bar on the
    first, the column labels above, the row labels beside, each map's caption (rows x
    columns of text, optional) over it, and the Li colour bar."""
    pg, _ = _application()
    from .theme import li_colormap

    colormap = li_colormap()
    pixel_um = pixel_nm / 1e3
    shapes = [m.shape for row in maps for m in row if m is not None]
    height_um = max((s[0] for s in shapes), default=1) * pixel_um
    width_um = max((s[1] for s in shapes), default=1) * pixel_um
    length_um = nice_length_um(width_um)
    below_um = 0.25 * height_um  # room under the maps for the scale bar
    scaled = False
    for r, (row, label) in enumerate(zip(maps, row_labels, strict=True)):
        layout.addLabel(label, row=r + 1, col=0, angle=-90)
        for c, image in enumerate(row):
            plot = layout.addPlot(row=r + 1, col=c + 1)
            if captions is not None:
                plot.setTitle(captions[r][c], size="8pt")
            plot.hideAxis("left")
            plot.hideAxis("bottom")
            plot.setAspectLocked(True)
            plot.invertY(True)
            plot.setMouseEnabled(False, False)
            plot.setRange(xRange=(0, width_um), yRange=(0, height_um + below_um), padding=0.02)
            if image is None:
                continue
            item = pg.ImageItem(li_rgba(image, colormap), axisOrder="row-major")
            item.setRect(0, 0, image.shape[1] * pixel_um, image.shape[0] * pixel_um)
            plot.addItem(item)
            if not scaled:  # on the first map
                _scale_bar(pg, plot, length_um, height_um + 0.5 * below_um)
                scaled = True
    for c, label in enumerate(column_labels):
        layout.addLabel(label, row=0, col=c + 1)
    bar = pg.ColorBarItem(
        values=(0, 1), colorMap=colormap, interactive=False, width=12, label="Li fraction x"
    )
    layout.addItem(bar, row=1, col=len(column_labels) + 1, rowspan=max(len(maps), 1))


def _scale_bar(pg, plot, length_um: float, y_um: float) -> None:
    """A scale bar in the map's own coordinates (um), under its left edge, labelled."""
    from .theme import FOREGROUND

    plot.plot([0, length_um], [y_um, y_um], pen=pg.mkPen(FOREGROUND, width=4))
    text = f"{length_um * 1e3:.0f} nm" if length_um < 1 else f"{length_um:g} um"
    label = pg.TextItem(text, color=FOREGROUND, anchor=(0, 0.5))
    label.setPos(length_um * 1.1, y_um)
    plot.addItem(label)


def save_li_maps(
    maps: Sequence[Sequence[np.ndarray | None]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    path: str | Path,
    pixel_nm: float = 40.0,
    title: str = "",
    captions: Sequence[Sequence[str]] | None = None,
) -> Path:
    """Save a grid of Li fraction maps (rows x columns, NaN = no particle; ``pixel_nm`` the
    raster step, nm; ``captions`` a text over each map) as a PNG, with a colour bar and a
    scale bar."""
    pg, _ = _application()
    layout = pg.GraphicsLayoutWidget()
    grid = layout.ci
    if title:
        layout.addLabel(title, row=0, col=0, colspan=len(column_labels) + 2, size="11pt")
        grid = layout.addLayout(row=1, col=0, colspan=len(column_labels) + 2)
    add_li_map_grid(grid, maps, row_labels, column_labels, pixel_nm, captions)
    columns = max(len(column_labels), 1)
    layout.resize(min(1800, 80 + 190 * columns), 90 + 190 * max(len(maps), 1))
    return _export(layout, layout.scene(), path)


def save_voltage_curve(
    time_s: np.ndarray,
    voltage_V: np.ndarray,
    path: str | Path,
    title: str = "cell voltage",
    current_A: np.ndarray | None = None,
    image_times_s: Sequence[float] = (),
) -> Path:
    """Save voltage against time (min) as a PNG; with ``current_A`` the current (uA) on a
    right-hand axis, and a tick at the top for each image (``image_times_s``, s)."""
    pg, _ = _application()
    plot = pg.PlotWidget(title=title)
    item = plot.plotItem
    legend = item.addLegend(offset=(10, 5), colCount=3)  # one row, in the headroom
    item.plot(np.asarray(time_s) / 60.0, np.asarray(voltage_V), pen=pg.mkPen("b", width=2))
    legend.addItem(pg.PlotDataItem(pen=pg.mkPen("b", width=2)), "voltage (left)")
    item.setLabel("bottom", "time", units="min")
    item.setLabel("left", "voltage", units="V")
    item.getAxis("bottom").enableAutoSIPrefix(False)
    if current_A is not None:
        currents = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(currents)
        item.getAxis("right").linkToView(currents)
        item.getAxis("right").setLabel("current", units="uA")
        item.getAxis("right").enableAutoSIPrefix(False)
        currents.setXLink(item)
        pen = pg.mkPen((200, 100, 0), width=1.5)
        current_uA = np.asarray(current_A) * 1e6
        currents.addItem(pg.PlotDataItem(np.asarray(time_s) / 60.0, current_uA, pen=pen))
        currents.setYRange(*_with_headroom(current_uA), padding=0)
        legend.addItem(pg.PlotDataItem(pen=pen), "current (right)")

        def follow() -> None:
            currents.setGeometry(item.getViewBox().sceneBoundingRect())

        item.getViewBox().sigResized.connect(follow)
        follow()
    low, high = _with_headroom(voltage_V)
    item.setYRange(low, high, padding=0)
    if len(image_times_s):
        top = float(np.nanmax(voltage_V)) + 0.08 * (high - low)
        ticks = pg.ScatterPlotItem(
            np.asarray(image_times_s) / 60.0, np.full(len(image_times_s), top),
            symbol="t", size=7, brush=(60, 60, 60), pen=None,
        )  # fmt: skip
        item.addItem(ticks)
        legend.addItem(ticks, "images")
    plot.resize(900, 480)
    return _export(plot, plot.scene(), path)


def _with_headroom(values) -> tuple[float, float]:
    """The values' range with a fifth of it free at the top (for the legend and ticks)."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = (high - low) or 1.0
    return low - 0.03 * span, high + 0.25 * span


SCREENSHOT_SIZE = (1280, 800)
"""The monitor screenshot's size, px: a laptop's screen, which the monitor is laid out for."""


def save_monitor_screenshot(analysis, path: str | Path) -> Path:
    """Draw the monitor for a filled ``OperandoAnalysis`` (latest frame) at
    ``SCREENSHOT_SIZE`` and save it as PNG."""
    _, app = _application()
    from qtpy import QtGui

    from .monitor import MonitorWindow

    window = MonitorWindow(analysis=analysis)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    window.refresh()
    window.wait_for_fits()
    for _ in range(30):  # the layout settles over several passes (colour bars' axes last)
        app.processEvents()
    path = _writable(path)
    # rendered 1:1 into an image of the window's size (offscreen, grab() scales by the
    # screen's 100 dpi over 96, which would make a 1280x800 window 1333x833)
    image = QtGui.QImage(window.size(), QtGui.QImage.Format_RGB32)
    painter = QtGui.QPainter(image)
    window.render(painter)
    painter.end()
    image.save(str(path))
    window.close()
    return _written(path)
