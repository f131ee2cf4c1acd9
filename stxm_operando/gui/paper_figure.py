"""The paper's figures redrawn from the particle model (``stxm-operando paper``): one figure,
a panel per figure of Koo et al. (EES 2023), lettered, with the paper's stated numbers over
the model's where it gives them. Points are means over seeds with their standard deviation."""

from pathlib import Path

import numpy as np

from .campaign_figure import COLOURS, _rate_curves
from .figures import _application, _export, add_li_map_grid

PAPER_PEN = dict(color=(40, 40, 40), width=2, style=3)  # dotted: the paper's value
RATE_CURVE_RATES = (0.2, 1.0, 4.0, 7.0)  # Fig. 1b's curves


def save_paper_figure(result, path: str | Path) -> list[Path]:
    """Draw ``paper.compute``'s result; save PNG at ``path`` and PDF and SVG beside it.
    Points are means over seeds, bars their standard deviation, black squares and dotted
    lines the paper's numbers."""
    pg, _ = _application()
    layout = pg.GraphicsLayoutWidget()
    layout.setBackground("w")
    top = layout.addLayout(row=0, col=0)
    _voltage_panel(pg, top.addPlot(row=0, col=0), result)
    _overpotential_panel(pg, top.addPlot(row=0, col=1), result)
    _ratio_panel(pg, top.addPlot(row=0, col=2), result)
    _j0_panel(pg, top.addPlot(row=0, col=3), result)
    middle = layout.addLayout(row=1, col=0)
    _maps_over_time(middle.addLayout(row=0, col=0), result)
    _channel_panels(pg, middle.addLayout(row=0, col=1), result)
    bottom = layout.addLayout(row=2, col=0)
    _maps_at_half(bottom.addLayout(row=0, col=0), result)
    _rate_panel(pg, bottom.addPlot(row=0, col=1), result, "composition")
    _rate_panel(pg, bottom.addPlot(row=0, col=2), result, "fractions")
    _relaxation_panel(pg, bottom.addPlot(row=0, col=3), result)
    for row, stretch in enumerate((3, 4, 3)):
        layout.ci.layout.setRowStretchFactor(row, stretch)
    layout.resize(1900, 1500)
    path = Path(path)
    pdf, svg = path.with_suffix(".pdf"), path.with_suffix(".svg")
    return [_export(layout, layout.scene(), path, pdf=pdf, svg=svg), pdf, svg]


def _style(plot, title: str, bottom: tuple[str, str], left: tuple[str, str]) -> None:
    plot.setTitle(title, size="10pt")
    plot.setLabel("bottom", bottom[0], units=bottom[1] or None)
    plot.setLabel("left", left[0], units=left[1] or None)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.2)


def _paper_line(pg, plot, y: float, label: str) -> None:
    line = pg.InfiniteLine(
        pos=y,
        angle=0,
        pen=pg.mkPen(**PAPER_PEN),
        label=label,
        labelOpts=dict(position=0.5, color=(40, 40, 40), anchors=[(0.5, 1), (0.5, 1)]),
    )
    plot.addItem(line)


def _voltage_panel(pg, plot, result) -> None:
    _style(plot, "a  Fig. 1b: voltage against capacity", ("capacity", "fraction"), ("V", "V"))
    plot.addLegend(offset=(-5, -5))
    for rate in RATE_CURVE_RATES:
        shade = 0.25 + 0.75 * RATE_CURVE_RATES.index(rate) / (len(RATE_CURVE_RATES) - 1)
        for run in (r for r in result.runs[rate] if r.seed == result.runs[rate][0].seed):
            colour = tuple(int(c * shade + 255 * (1 - shade)) for c in COLOURS[run.direction])
            name = f"{rate:g}C" if run.direction == "lithiation" else None
            plot.plot(*run.curve.T, pen=pg.mkPen(colour, width=2), name=name)
    _paper_line(pg, plot, result.reference_V, f"0.2C midpoint {result.reference_V:.3f} V")
    plot.setYRange(3.2, 3.7)


def _overpotential_panel(pg, plot, result) -> None:
    _style(plot, "b  Fig. 1c: overpotential at SoC 0.5", ("|C-rate|", "1/h"), ("|η|", "mV"))
    for direction, colour in COLOURS.items():
        rows = [r for r in result.rows if r["direction"] == direction]
        _rate_curves(pg, plot, rows, (("overpotential_V", 1, 1e3),), colour, counts=False)
    legend = plot.addLegend(offset=(10, 10))
    for direction, colour in COLOURS.items():
        legend.addItem(pg.PlotDataItem(pen=pg.mkPen(colour, width=2)), direction)


def _ratio_panel(pg, plot, result) -> None:
    from ..paper import PAPER, overpotential_ratio, seed_ratios

    _style(
        plot,
        "c  Fig. 1c: |η<sub>lith</sub>| / |η<sub>delith</sub>|",
        ("|C-rate|", "1/h"),
        ("ratio", ""),
    )
    rates = np.array(sorted(result.runs))
    ratios = [overpotential_ratio(result.runs[r], result.reference_V) for r in rates]
    spread = [np.std(seed_ratios(result.runs[r], result.reference_V)) for r in rates]
    plot.plot(rates, ratios, pen=pg.mkPen("k", width=2), symbol="o", symbolBrush="k")
    plot.addItem(pg.ErrorBarItem(x=rates, y=np.array(ratios), height=2 * np.array(spread)))
    _paper_line(pg, plot, 1.0, "symmetric")
    j0, x_surf = PAPER["j0_at_x_surf_4C"], PAPER["x_surf_4C"]
    lith, delith = j0[x_surf["lithiation"]], j0[x_surf["delithiation"]]
    # Butler-Volmer's overpotential is concave in i / j0: the ratio cannot exceed this
    _paper_line(
        pg, plot, delith / lith, f"paper's j0 ratio {delith:g} / {lith:g}: Butler-Volmer's ceiling"
    )


def _j0_panel(pg, plot, result) -> None:
    from ..analysis import j0_skewed
    from ..paper import PAPER

    fit = result.fit()
    title = "d  Fig. 4b: j<sub>0</sub> against x<sub>surf</sub>, channels at ≥ 1C"
    _style(plot, title, ("x<sub>surf</sub>", ""), ("j<sub>0</sub> / max of fit", ""))
    x, j0 = result.j0
    peak = fit(fit.x_max)
    plot.plot(
        x,
        j0 / peak,
        pen=None,
        symbol="o",
        symbolSize=4,
        symbolBrush=(60, 60, 200, 90),
        symbolPen=None,
    )
    grid = np.linspace(0.01, 0.99, 99)
    band = _fit_band(fit, grid) / peak
    lower = plot.plot(grid, band[0], pen=pg.mkPen((60, 60, 200, 60)))
    upper = plot.plot(grid, band[1], pen=pg.mkPen((60, 60, 200, 60)))
    plot.addItem(pg.FillBetweenItem(lower, upper, brush=(60, 60, 200, 50)))
    plot.plot(grid, fit(grid) / peak, pen=pg.mkPen((60, 60, 200), width=2), name="fit")
    plot.plot(grid, j0_skewed(grid), pen=pg.mkPen(**PAPER_PEN))
    points = PAPER["j0_at_x_surf_4C"]
    plot.plot(
        list(points), list(points.values()), pen=None, symbol="s", symbolSize=10, symbolBrush="k"
    )
    text = pg.TextItem(
        f"fit a = {fit.a:.2f}, b = {fit.b:.2f}\npaper (Lim 2016): 0.5, 1.5 (dotted)", color="k"
    )
    text.setPos(0.45, 1.25)
    plot.addItem(text)
    plot.setRange(xRange=(0, 1), yRange=(0, 1.4), padding=0.02)


def _fit_band(fit, grid: np.ndarray, samples: int = 200) -> np.ndarray:
    """The fit's one-sigma band: 16th and 84th percentiles over parameters drawn from its
    standard errors."""
    rng = np.random.default_rng(0)
    drawn = rng.normal([fit.amplitude, fit.a, fit.b], fit.stderr, size=(samples, 3))
    drawn = np.clip(drawn, 1e-6, None)
    x = np.clip(grid, 0, 1)[None, :]
    curves = drawn[:, :1] * x ** drawn[:, 1:2] * (1 - x) ** drawn[:, 2:3]
    return np.percentile(curves, (16, 84), axis=0)


def _first(runs, direction: str):
    return next(r for r in runs if r.direction == direction)


def _maps_over_time(grid, result) -> None:
    from ..paper.runs import MAP_SOCS, PIXEL_NM

    grid.addLabel("e  Fig. 3: Li maps of one particle over time", row=0, col=0, colspan=5)
    cells = grid.addLayout(row=1, col=0)
    rows, labels = [], []
    for rate in (min(result.runs), 4.0):
        for direction in COLOURS:
            run = _first(result.runs[rate], direction)
            rows.append([run.maps[soc] for soc in MAP_SOCS])
            labels.append(f"{rate:g}C {direction[:5]}.")
    add_li_map_grid(cells, rows, labels, [f"SoC {soc:g}" for soc in MAP_SOCS], PIXEL_NM)


def _channel_panels(pg, grid, result) -> None:
    from ..paper.runs import PIXEL_NM

    slow = min(result.runs)
    run = _first(result.runs[slow], "delithiation")
    grid.addLabel(
        f"f  Fig. 4a: one particle at {slow:g}C delithiation, SoC 0.5", row=0, col=0, colspan=3
    )
    maps = grid.addLayout(row=1, col=0)
    add_li_map_grid(maps, [[run.fraction_half]], [""], [""], PIXEL_NM, captions=[["x"]])
    rate = maps.addPlot(row=2, col=1)
    _rate_image(pg, maps, rate, run.rate_map(), PIXEL_NM)
    profile = grid.addPlot(row=1, col=1)
    _style(
        profile,
        "j<sub>Ch</sub> and x<sub>surf</sub> per channel",
        ("channel along [001]", ""),
        ("j<sub>Ch</sub>", "µA/cm2"),
    )
    channels = np.arange(run.fraction_half.shape[1])
    profile.plot(
        channels,
        1e3 * run.channel_currents(),  # mA/cm2 to µA/cm2: readable ticks at 0.15C
        pen=pg.mkPen((60, 60, 200), width=2),
        symbol="o",
        symbolBrush=(60, 60, 200),
    )
    surface = grid.addPlot(row=2, col=1)
    _style(surface, "", ("channel along [001]", ""), ("x<sub>surf</sub>", ""))
    surface.plot(
        channels,
        run.surface_compositions(),
        pen=pg.mkPen(COLOURS["delithiation"], width=2),
        symbol="o",
        symbolBrush=COLOURS["delithiation"],
    )
    surface.setYRange(0, 1)


def _rate_image(pg, layout, plot, rate: np.ndarray, pixel_nm: float) -> None:
    """dx/dt map in 1e-4 /s with a diverging colour map and its own colour bar."""
    scaled = rate * 1e4
    limit = float(np.nanmax(np.abs(scaled))) or 1.0
    plot.setTitle("dx/dt", size="8pt")
    for axis in ("left", "bottom"):
        plot.hideAxis(axis)
    plot.setAspectLocked(True)
    plot.invertY(True)
    item = pg.ImageItem(scaled.T)
    item.setRect(0, 0, rate.shape[1] * pixel_nm / 1e3, rate.shape[0] * pixel_nm / 1e3)
    plot.addItem(item)
    bar = pg.ColorBarItem(
        values=(-limit, limit),
        colorMap=pg.colormap.get("CET-D1"),
        interactive=False,
        width=12,
        label="dx/dt (1e-4 /s)",
    )
    bar.setImageItem(item)
    layout.addItem(bar, row=2, col=2)


def _maps_at_half(grid, result) -> None:
    from ..paper.runs import PIXEL_NM

    grid.addLabel("g  Fig. 5a: Li maps at SoC 0.5", row=0, col=0)
    cells = grid.addLayout(row=1, col=0)
    pairs = ((4.0, "lithiation"), (7.0, "delithiation"))
    maps = [[_first(result.runs[rate], direction).fraction_half] for rate, direction in pairs]
    add_li_map_grid(cells, maps, [f"{r:g}C {d[:5]}." for r, d in pairs], [""], PIXEL_NM)


def _rate_panel(pg, plot, result, which: str) -> None:
    from ..paper import PAPER

    if which == "composition":
        title = "h  Fig. 5b: x<sub>surf</sub> (solid), x<sub>int</sub> (dashed), SoC 0.5"
        quantities, left = (("x_surf", 1, 1.0), ("x_internal", 2, 1.0)), ("Li fraction x", "")
    else:
        title = "i  Fig. 5c: active (solid), transformed (dashed) surface"
        quantities, left = (
            (("active_fraction", 1, 1.0), ("transformed_fraction", 2, 1.0)),
            ("fraction of the surface", ""),
        )
    _style(plot, title, ("|C-rate|", "1/h"), left)
    for direction, colour in COLOURS.items():
        rows = [r for r in result.rows if r["direction"] == direction]
        _rate_curves(pg, plot, rows, quantities, colour, counts=False)
    marks = (
        list(PAPER["x_surf_4C"].values())
        if which == "composition"
        else [PAPER["active_4C"], PAPER["transformed_4C"]]
    )
    plot.plot([4.0] * len(marks), marks, pen=None, symbol="s", symbolSize=10, symbolBrush="k")
    plot.setYRange(0, 1)


def _relaxation_panel(pg, plot, result) -> None:
    from ..paper.report import relaxation_rows

    _style(
        plot,
        "j  Fig. S8a: x<sub>surf</sub> − x<sub>int</sub> at rest after 4C",
        ("time at rest", "min"),
        ("x<sub>surf</sub> − x<sub>int</sub>", ""),
    )
    rows = relaxation_rows(result.rested)
    for direction, colour in COLOURS.items():
        chosen = [r for r in rows if r["direction"] == direction]
        t = np.array([r["time_s"] for r in chosen]) / 60
        y = np.array([r["surface_minus_internal"] for r in chosen])
        spread = np.array([r["surface_minus_internal_std"] for r in chosen])
        plot.plot(t, y, pen=pg.mkPen(colour, width=2), name=direction)
        plot.addItem(pg.ErrorBarItem(x=t[::10], y=y[::10], height=2 * spread[::10], pen=colour))
        for keep in (0.5,):
            plot.plot([0, t[-1]], [keep * y[0]] * 2, pen=pg.mkPen(colour, width=1, style=3))
    _paper_line(pg, plot, 0.0, "")
