"""A campaign's cross-run figure (``stxm-operando campaign``), as the paper draws its results:
overpotential against C-rate (Fig. 1c), exchange current against surface composition over all
channels of all runs (Fig. 4b), <x_surf> and <x_int> (Fig. 5b) and the active and transformed
surface (Fig. 5c) against C-rate, and a grid of Li maps at the state of charge asked for, one
per rate and direction."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .figures import _application, _export, add_li_map_grid

COLOURS = {"lithiation": (210, 0, 0), "delithiation": (0, 150, 0)}
"""The directions' colours, in every panel."""
RATE_PANELS = {
    "overpotential": (
        "overpotential at SoC 0.5 (Fig. 1c)",
        ("|eta|", "mV"),
        (("overpotential_V", 1, 1e3),),
    ),
    "composition": (
        "x_surf (solid), x_int (dashed) at SoC 0.5 (Fig. 5b)",
        ("Li fraction x", ""),
        (("x_surf", 1, 1.0), ("x_internal", 2, 1.0)),
    ),
    "fractions": (
        "active (solid), transformed (dashed) surface (Fig. 5c)",
        ("fraction of the surface", ""),
        (("active_fraction", 1, 1.0), ("transformed_fraction", 2, 1.0)),
    ),
}
"""Per panel against C-rate: title, left axis (label, unit) and the (column, line style,
scale) drawn."""


def save_campaign_figure(
    rows: Sequence[dict],
    channels: Sequence[dict],
    maps: Sequence[dict],
    path: str | Path,
    pdf: str | Path | None = None,
) -> list[Path]:
    """Draw the campaign's figure from ``campaign.csv``'s rows, ``channels.csv``'s channels
    and the rows' Li maps (dicts with direction, c_rate, pixel_nm and x, a Li fraction map
    with NaN off the particle); save it as PNG (and as vector PDF at ``pdf``). Points are the
    mean and standard deviation across particles, with the particle count by each."""
    pg, _ = _application()
    layout = pg.GraphicsLayoutWidget()
    plots = {"j0": _j0_panel(pg, layout, channels, column=1)}  # Fig. 4b after 1c, as printed
    for column, (name, (title, left, _)) in zip((0, 2, 3), RATE_PANELS.items(), strict=True):
        plot = plots[name] = layout.addPlot(row=0, col=column, title=title)
        plot.setLabel("bottom", "|C-rate|", units="1/h")
        plot.setLabel("left", *left)
        plot.getAxis("left").enableAutoSIPrefix(False)  # a fraction is shown as one
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.getViewBox().setDefaultPadding(0.12)  # room for the counts by the points
    legend = plots["overpotential"].addLegend(offset=(10, 10))  # top left: eta grows with rate
    for direction, colour in COLOURS.items():
        chosen = [r for r in rows if r["direction"] == direction]
        if chosen:
            legend.addItem(pg.PlotDataItem(pen=pg.mkPen(colour, width=2)), direction)
            for name, (_, _, quantities) in RATE_PANELS.items():
                _rate_curves(pg, plots[name], chosen, quantities, colour)
    directions, rates, grid = _map_grid(maps)
    if grid:
        pixel_nm = float(maps[0]["pixel_nm"])
        below = layout.addLayout(row=1, col=0, colspan=4)
        below.addLabel("Li maps at SoC 0.5, one particle per rate and direction", row=0, col=0)
        add_li_map_grid(
            below.addLayout(row=1, col=0),
            grid,
            directions,
            [f"{rate:g}C" for rate in rates],
            pixel_nm,
        )
    if grid:
        layout.ci.layout.setRowStretchFactor(0, 2)
        layout.ci.layout.setRowStretchFactor(1, 3)
    layout.resize(1700, 1000 if grid else 480)
    png = _export(layout, layout.scene(), path, pdf=pdf)
    return [png] if pdf is None else [png, Path(pdf)]


def _rate_curves(pg, plot, chosen: Sequence[dict], quantities, colour, counts=True) -> None:
    """Mean and spread across particles against |C-rate| of each quantity, n by the points
    (with ``counts``)."""
    rates = sorted({abs(float(r["c_rate"])) for r in chosen})
    for key, style, scale in quantities:
        groups = [
            np.array([abs(float(r[key])) * scale for r in chosen if abs(float(r["c_rate"])) == c])
            for c in rates
        ]
        means = np.array([np.nanmean(g) for g in groups])
        spread = np.array([np.nanstd(g) for g in groups])
        plot.plot(
            rates, means, pen=pg.mkPen(colour, width=2, style=style), symbol="o", symbolBrush=colour
        )
        plot.addItem(pg.ErrorBarItem(x=np.array(rates), y=means, height=2 * spread, pen=colour))
        if counts and style == 1:  # lithiation's counts above, delithiation's below
            anchor = (0.5, 1.3) if colour == COLOURS["lithiation"] else (0.5, -0.3)
            for rate, mean, group in zip(rates, means, groups, strict=True):
                count = pg.TextItem(f"n={len(group)}", color=colour, anchor=anchor)
                count.setPos(rate, mean)
                plot.addItem(count)


def _j0_panel(pg, layout, channels: Sequence[dict], column: int):
    """Fig. 4b: every channel's (x_surf, j0) of every run, each direction with its fit of
    ``A x^a (1 - x)^b``."""
    from ..analysis import fit_j0

    plot = layout.addPlot(row=0, col=column, title="j0 against x_surf, all channels (Fig. 4b)")
    plot.setLabel("bottom", "x_surf", units="")
    plot.setLabel("left", "j0", units="uA/cm2")
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.2)
    grid, shown = np.linspace(0.01, 0.99, 99), []
    for direction, colour in COLOURS.items():
        points = np.array(
            [
                (float(c["x_surf"]), float(c["j0_mA_cm2"]))
                for c in channels
                if c["direction"] == direction
            ]
        ).reshape(-1, 2)
        points = points[np.all(np.isfinite(points), axis=1)] * [1.0, 1e3]  # j0 in uA/cm2
        if not len(points):
            continue
        shown.append(points[:, 1])
        brush = pg.mkBrush(*colour, 90)
        plot.plot(*points.T, pen=None, symbol="o", symbolSize=4, symbolBrush=brush, symbolPen=None)
        try:
            fit = fit_j0(*points.T)
        except (ValueError, RuntimeError):  # too few points, or no convergence
            continue
        plot.plot(grid, fit(grid), pen=pg.mkPen(colour, width=2))
    if shown:  # the bulk of the channels, not the few near x = 0 or 1 where eta ~ 0
        low, high = np.percentile(np.concatenate(shown), (1, 98))
        plot.setRange(xRange=(0, 1), yRange=(min(low, 0.0), 1.3 * high), padding=0.02)
    return plot


def _map_grid(maps: Sequence[dict]) -> tuple[list[str], list[float], list[list]]:
    """The directions (rows), |C-rates| (columns) and the first map of each pair (None where
    the campaign has none)."""
    directions = [d for d in COLOURS if any(m["direction"] == d for m in maps)]
    rates = sorted({abs(float(m["c_rate"])) for m in maps})
    grid = [
        [
            next(
                (
                    np.array(m["x"], dtype=float)
                    for m in maps
                    if m["direction"] == direction and abs(float(m["c_rate"])) == rate
                ),
                None,
            )
            for rate in rates
        ]
        for direction in directions
    ]
    return directions, rates, grid
