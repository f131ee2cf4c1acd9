"""Static figures (PNG) drawn with pyqtgraph offscreen: Li maps, the voltage curve, the
paper's figures from the model and a campaign's cross-run figure."""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _application():
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    from .theme import apply_theme, private_runtime_dir

    private_runtime_dir()
    apply_theme(antialias=True)
    return pg, pg.mkQApp()


def li_rgba(x: np.ndarray, colormap=None) -> np.ndarray:
    """RGBA image of a Li fraction map; NaN (no particle) is white."""
    from .theme import li_colormap

    colormap = colormap or li_colormap()
    x = np.asarray(x, dtype=float)
    rgba = colormap.map(np.clip(np.nan_to_num(x, nan=0.0), 0, 1).ravel(), mode="byte")
    rgba = rgba.reshape((*x.shape, 4))
    rgba[np.isnan(x)] = 255
    return rgba


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


def _export(widget, item, path: str | Path) -> Path:
    """Show ``widget`` offscreen, save ``item`` (its scene or a plot item) as PNG, close it;
    OSError if the file was not written."""
    from pyqtgraph.exporters import ImageExporter

    path = _writable(path)
    widget.show()
    _application()[1].processEvents()
    ImageExporter(item).export(str(path))
    widget.close()
    return _written(path)


def save_li_maps(
    maps: Sequence[Sequence[np.ndarray]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    path: str | Path,
    scale: int = 6,
) -> Path:
    """Save a grid of Li fraction maps (rows x columns, NaN = no particle) as a PNG."""
    pg, _ = _application()
    from .theme import li_colormap

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
    return _export(layout, layout.scene(), path)


def save_voltage_curve(
    time_s: np.ndarray, voltage_V: np.ndarray, path: str | Path, title: str = "cell voltage"
) -> Path:
    """Save voltage against time as a PNG."""
    pg, _ = _application()
    plot = pg.PlotWidget(title=title)
    plot.plot(np.asarray(time_s) / 60.0, np.asarray(voltage_V), pen=pg.mkPen("b", width=2))
    plot.setLabel("bottom", "time", units="min")
    plot.setLabel("left", "voltage", units="V")
    plot.resize(800, 450)
    return _export(plot, plot.plotItem, path)


def save_monitor_screenshot(analysis, path: str | Path) -> Path:
    """Draw the monitor for a filled ``OperandoAnalysis`` (latest frame) and save it as PNG."""
    _, app = _application()
    from .monitor import MonitorWindow

    window = MonitorWindow(analysis=analysis)
    window.show()
    window.refresh()
    window.wait_for_fits()
    app.processEvents()
    path = _writable(path)
    window.grab().save(str(path))
    window.close()
    return _written(path)


def save_paper_figure(runs, ratios, j0_points, path: str | Path) -> Path:
    """The paper's figures from ``paper.sweep``: overpotential ratio against C-rate (Fig. 1c),
    <x_surf> and <x_int> against C-rate (Fig. 5b) and j0 against x_surf (Fig. 4b), as PNG."""
    pg, _ = _application()
    from ..analysis import fit_j0

    layout = pg.GraphicsLayoutWidget()
    rates = np.array(sorted(runs))
    ratio_plot = layout.addPlot(title="|eta_lith| / |eta_delith| at SoC 0.5 (Fig. 1c)")
    ratio_plot.plot(rates, [ratios[r] for r in rates], pen="k", symbol="o")
    ratio_plot.setLabel("bottom", "C-rate")
    surface_plot = layout.addPlot(title="mean x_surf (solid), x_int (dashed), SoC 0.5 (Fig. 5b)")
    surface_plot.addLegend()
    for direction, colour in (("lithiation", (210, 0, 0)), ("delithiation", (0, 150, 0))):
        stats = [[r.statistics() for r in runs[c] if r.direction == direction] for c in rates]
        for attribute, style in (("mean_surface", None), ("mean_internal", 2)):
            pen = pg.mkPen(colour, width=2, style=style or 1)
            values = [np.mean([getattr(s, attribute) for s in group]) for group in stats]
            name = direction if style is None else None
            surface_plot.plot(rates, values, pen=pen, symbol="o", symbolBrush=colour, name=name)
    surface_plot.setLabel("bottom", "C-rate")
    j0_plot = layout.addPlot(title="j0 against x_surf, >= 1C (Fig. 4b)")
    x, j0 = j0_points
    j0_plot.plot(x, j0, pen=None, symbol="o", symbolSize=4, symbolBrush=(60, 60, 200))
    fit = fit_j0(x, j0)
    grid = np.linspace(0.01, 0.99, 99)
    j0_plot.plot(grid, fit(grid), pen=pg.mkPen("k", width=2))
    j0_plot.setLabel("bottom", "x_surf")
    j0_plot.setLabel("left", "j0 (mA/cm2)")
    layout.resize(1500, 450)
    return _export(layout, layout.scene(), path)


def save_campaign_figure(rows: Sequence[dict], path: str | Path) -> Path:
    """A campaign's cross-run figure from ``campaign.csv``'s rows, as PNG: overpotential
    against C-rate (Fig. 1c), <x_surf> and <x_int> against C-rate (Fig. 5b) and the active and
    transformed fractions (Fig. 5c); mean and standard deviation across particles, and the
    particle count by each point."""
    pg, _ = _application()
    layout = pg.GraphicsLayoutWidget()
    panels = {
        "overpotential": layout.addPlot(title="overpotential at SoC 0.5 (Fig. 1c)"),
        "composition": layout.addPlot(title="x_surf (solid), x_int (dashed) at SoC 0.5 (Fig. 5b)"),
        "fractions": layout.addPlot(title="active (solid), transformed (dashed) (Fig. 5c)"),
    }
    labels = {
        "overpotential": ("|eta|", "mV"),
        "composition": ("Li fraction x", ""),
        "fractions": ("fraction of the particle", ""),
    }
    for name, plot in panels.items():
        plot.setLabel("bottom", "|C-rate|", units="1/h")
        plot.setLabel("left", *labels[name])
        plot.getAxis("left").enableAutoSIPrefix(False)  # a fraction is shown as one
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.getViewBox().setDefaultPadding(0.12)  # room for the counts by the points
    panels["overpotential"].addLegend(offset=(-10, -10))  # the directions' colours, once
    quantities = {
        "overpotential": (("overpotential_V", 1, 1e3),),
        "composition": (("x_surf", 1, 1.0), ("x_internal", 2, 1.0)),
        "fractions": (("active_fraction", 1, 1.0), ("transformed_fraction", 2, 1.0)),
    }
    for direction, colour in (("lithiation", (210, 0, 0)), ("delithiation", (0, 150, 0))):
        chosen = [r for r in rows if r["direction"] == direction]
        rates = sorted({abs(float(r["c_rate"])) for r in chosen})
        if not rates:
            continue
        for name, plot in panels.items():
            for key, style, scale in quantities[name]:
                groups = [
                    np.array(
                        [abs(float(r[key])) * scale for r in chosen if abs(float(r["c_rate"])) == c]
                    )
                    for c in rates
                ]
                means = np.array([g.mean() for g in groups])
                spread = np.array([g.std() for g in groups])
                pen = pg.mkPen(colour, width=2, style=style)
                label = direction if style == 1 and name == "overpotential" else None
                plot.plot(rates, means, pen=pen, symbol="o", symbolBrush=colour, name=label)
                plot.addItem(
                    pg.ErrorBarItem(x=np.array(rates), y=means, height=2 * spread, pen=colour)
                )
                if style == 1:
                    for rate, mean, group in zip(rates, means, groups, strict=True):
                        count = pg.TextItem(f"n={len(group)}", color=colour, anchor=(0.5, 1.3))
                        count.setPos(rate, mean)
                        plot.addItem(count)
    layout.resize(1500, 480)
    return _export(layout, layout.scene(), path)
