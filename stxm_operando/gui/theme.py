"""One colour theme for the monitor and the saved figures: white plots, dark lines.

Every line colour here stands out from the white background by a contrast ratio of at least
3 (WCAG 2's figure for graphics; ``tests/gui_checks.py`` measures it on the drawn window).
"""

import os
import sys
import tempfile
from pathlib import Path

import pyqtgraph as pg

BACKGROUND = (255, 255, 255)
FOREGROUND = (0, 0, 0)
DIRECTION_COLORS = {
    "lithiation": (190, 20, 20),
    "delithiation": (0, 110, 0),
    "rest": (90, 90, 90),
}
"""Colour of each protocol direction (j0 points), as in the paper: red Li-rich, green Li-poor."""
PARTICLE_COLORS = (
    (31, 100, 180),
    (200, 82, 0),
    (120, 60, 170),
    (0, 125, 125),
    (170, 40, 120),
    (120, 90, 40),
    (60, 60, 60),
    (110, 110, 0),
)
"""Colour of each particle (its panel title, j_Ch and x_surf curves), in turn."""
LI_COLORS = [(0, 150, 0), (235, 220, 40), (210, 0, 0)]
"""Li fraction colour scale as in the paper: green (Li-poor, x=0) to red (Li-rich, x=1)."""
VOLTAGE_COLOR = (20, 60, 200)
CURRENT_COLOR = (160, 0, 160)
FIT_COLOR = (0, 0, 0)
MARKER_COLOR = (80, 80, 80)


def apply_theme(antialias: bool = False) -> None:
    """Make pyqtgraph draw white plots with black axes and text (call before building).
    Saved figures want ``antialias``; the live monitor draws faster without it."""
    pg.setConfigOptions(antialias=antialias, background=BACKGROUND, foreground=FOREGROUND)


DISPLAY_FONT_POINTS = 9.0
"""The application font's size on an X display (Qt's xcb default, measured under Xvfb);
Qt's offscreen platform defaults to 12 pt, which crowds a 1280x800 window."""


def match_display_font(app) -> None:
    """Offscreen, draw text at the size a display's Qt uses, so saved figures and
    screenshots look as the window does on a screen."""
    if app.platformName() == "offscreen":
        font = app.font()
        font.setPointSizeF(DISPLAY_FONT_POINTS)
        app.setFont(font)


def particle_color(particle_id: int) -> tuple[int, int, int]:
    """The colour of a particle, RGB 0-255."""
    return PARTICLE_COLORS[particle_id % len(PARTICLE_COLORS)]


def fixed_lines(label, lines: int = 1) -> None:
    """Give a QLabel the height of ``lines`` lines of text for good, so new text never
    re-lays out (and repaints) the plots around it."""
    label.setFixedHeight(label.fontMetrics().lineSpacing() * lines + 4)


def pen(color: tuple[int, int, int], width: float = 2, dashed: bool = False):
    """A line of the theme."""
    from qtpy.QtCore import Qt

    return pg.mkPen(color, width=width, style=Qt.DashLine if dashed else Qt.SolidLine)


def li_colormap() -> pg.ColorMap:
    """The red (Li-rich) to green (Li-poor) pyqtgraph colour map of Li fraction."""
    return pg.ColorMap([0.0, 0.5, 1.0], LI_COLORS)


QUIET_QT_MESSAGES = ("propagateSizeHints",)
"""Qt messages that say nothing to a user: the offscreen platform's "This plugin does not
support propagateSizeHints()" at every window it shows."""


def prepare_qt() -> None:
    """Before the QApplication: give Qt the per-user runtime folder it asks for
    (``XDG_RUNTIME_DIR``, mode 0700) when the session has none (a container, ssh, a CI
    runner), where Qt would use the same folder but print "QStandardPaths: XDG_RUNTIME_DIR
    not set" every time; and drop ``QUIET_QT_MESSAGES`` (others still reach stderr)."""
    from qtpy import QtCore

    def handler(mode, context, message: str) -> None:
        if not any(quiet in message for quiet in QUIET_QT_MESSAGES):
            print(message, file=sys.stderr)

    QtCore.qInstallMessageHandler(handler)
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    folder = Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(folder)


def legend_below(plot: pg.PlotItem, columns: int) -> pg.LegendItem:
    """A legend in a row of its own under ``plot``'s bottom axis, ``columns`` entries wide:
    never on top of the data. Named items added to the plot join it."""
    legend = pg.LegendItem(colCount=columns, labelTextSize="8pt", verSpacing=-6)
    plot.layout.addItem(legend, 4, 1)
    plot.legend = legend  # PlotItem.addItem adds named items to plot.legend
    return legend
