"""What a scientist would see wrong in a window, measured from Qt's own geometry: cropped
docks, squeezed plots, clipped titles, hidden table cells, lines lost in the background.

Used offscreen by pytest-qt tests and inside the Xvfb subprocess (plain Qt, no pytest)."""

import pyqtgraph as pg
from qtpy import QtWidgets

SMALLEST_PLOT_PX = (110, 60)
"""A plot's data area below this (width, height in px) is too small to read."""
SMALLEST_LINE_CONTRAST = 3.0
"""WCAG 2's contrast ratio for graphics against their background."""


def _luminance(rgb) -> float:
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
        for c in (v / 255 for v in rgb[:3])
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first, second) -> float:
    """WCAG 2 contrast ratio of two RGB colours (0-255), written out here independently."""
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def layout_problems(window: QtWidgets.QMainWindow) -> list[str]:
    """Everything cropped or squeezed in ``window`` as it is laid out now ([] if none)."""
    problems = []
    screen = window.screen().availableGeometry()
    if window.frameGeometry().width() > screen.width() + 2:  # some WMs add a border
        problems.append(f"window {window.frameGeometry().width()} px wider than the screen")
    if window.frameGeometry().height() > screen.height() + 2:
        problems.append(f"window {window.frameGeometry().height()} px taller than the screen")
    for name, dock in getattr(window, "docks", {}).items():  # the monitor's
        if not dock.isVisible():
            continue  # a tab behind another
        for widget in dock.widgets:
            need = widget.minimumSizeHint()
            if widget.width() < need.width() or widget.height() < need.height():
                problems.append(
                    f"dock {name!r}: {widget.width()}x{widget.height()} px < its content's "
                    f"minimum {need.width()}x{need.height()} px"
                )
    for plot in visible_plots(window):
        box = plot.getViewBox().size()
        if box.width() < SMALLEST_PLOT_PX[0] or box.height() < SMALLEST_PLOT_PX[1]:
            title = plot.titleLabel.text
            problems.append(f"plot {title!r}: {box.width():.0f}x{box.height():.0f} px")
        if plot.titleLabel.isVisible():
            text_px = plot.titleLabel.item.boundingRect().width()
            if text_px > plot.size().width() + 1:
                problems.append(f"title {plot.titleLabel.text!r} clipped: {text_px:.0f} px")
    for table in window.findChildren(QtWidgets.QTableWidget):
        if table.isVisible() and table.columnCount() and table.rowCount():
            if table.horizontalHeader().length() > table.viewport().width():
                headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
                problems.append(f"table with columns {headers}: some cut off")
    return problems


def visible_plots(window) -> list[pg.PlotItem]:
    """Every PlotItem on a visible pyqtgraph view of the window (colour bars excluded)."""
    plots = []
    for view in window.findChildren(pg.GraphicsView):
        if not view.isVisible():
            continue
        for item in view.scene().items():
            if isinstance(item, pg.PlotItem) and not isinstance(item, pg.ColorBarItem):
                if item.isVisible() and item.getViewBox().isVisible():
                    plots.append(item)
    return plots


def line_contrast_problems(window) -> list[str]:
    """Lines and markers whose colour is too close to their plot's background."""
    problems = []
    for view in window.findChildren(pg.PlotWidget):
        background = view.backgroundBrush().color().getRgb()
        plot = view.getPlotItem()
        items = plot.listDataItems() + [
            i for i in plot.items if isinstance(i, pg.InfiniteLine | pg.ScatterPlotItem)
        ]
        for item in items:
            colors = []
            if isinstance(item, pg.PlotDataItem) and item.opts["pen"] is not None:
                colors.append(pg.mkPen(item.opts["pen"]).color().getRgb())
            if isinstance(item, pg.InfiniteLine):
                colors.append(item.pen.color().getRgb())
            if isinstance(item, pg.ScatterPlotItem):
                colors.append(pg.mkBrush(item.opts["brush"]).color().getRgb())
            for color in colors:
                alpha = color[3] / 255  # what is drawn: the colour blended onto the background
                pairs = zip(color[:3], background[:3], strict=True)
                seen = [alpha * c + (1 - alpha) * b for c, b in pairs]
                ratio = contrast(seen, background)
                if ratio < SMALLEST_LINE_CONTRAST:
                    name = plot.titleLabel.text
                    problems.append(f"{name!r}: {color[:3]} on {background[:3]}: {ratio:.1f}")
    return problems
