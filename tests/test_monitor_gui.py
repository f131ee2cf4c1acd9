"""The monitor as a scientist reads it: legends, visible lines, a cursor readout, readable
current ticks, a run browser that says what each run is and refreshes itself, and a stack
viewer. Offscreen (pytest-qt); the layout at real screen sizes is tested under Xvfb."""

import csv
import re

import numpy as np
import pytest
from bluesky import RunEngine
from conftest import MONITOR_ROIS as ROIS
from conftest import STACK_ENERGIES
from gui_checks import line_contrast_problems

from stxm_operando.devices import simulated_beamline
from stxm_operando.gui.monitor import MonitorWindow
from stxm_operando.plans import stack
from stxm_operando.storage import Catalog


@pytest.fixture
def live_window(qtbot, monitor_catalog):
    window = MonitorWindow()
    qtbot.addWidget(window)
    window.show()
    for name, doc in monitor_catalog[1]:
        window.document(name, doc)
    window.refresh()
    window.wait_for_fits()
    return window


def test_legends_name_every_particle_and_direction(live_window):
    legend = live_window.channels.jch_plot.getPlotItem().legend
    jch_names = [label.text for _, label in legend.items]
    assert jch_names == ["particle 0", "particle 1"]
    j0_names = [label.text for _, label in live_window.exchange.plot.getPlotItem().legend.items]
    assert {"lithiation", "delithiation", "fit"} <= set(j0_names)
    colours = {
        panel.title.palette().windowText().color().getRgb() for panel in live_window.panels.values()
    }
    assert len(colours) == 2  # each particle's panel title in its own colour


def test_every_line_stands_out_from_its_background(live_window):
    assert line_contrast_problems(live_window) == []


def test_the_cursor_reads_position_li_fraction_and_counts(live_window, qtbot):
    panel = live_window.panels[0]
    frame = panel.frame
    row, column = 11, 17
    view = panel.views[0]
    scene_point = view.getViewBox().mapViewToScene(pg_point(column + 0.5, row + 0.5))
    panel.graphics.scene().sigMouseMoved.emit(scene_point)
    text = live_window.cursor_label.text()
    step_um = frame.pixel_size_nm / 1e3
    # the stage position, from the ROI as the plan was given it (the raster centred on the
    # ROI's centre), within the tracked drift of a short run (0.1 um)
    roi = ROIS[0]
    stage_x, stage_y = map(float, re.search(r"stage \((\S+), (\S+)\) um", text).groups())
    assert abs(stage_x - (roi.center_x_um + (column - (roi.num_x - 1) / 2) * step_um)) < 0.1
    assert abs(stage_y - (roi.center_y_um + (row - (roi.num_y - 1) / 2) * step_um)) < 0.1
    assert f"708.2 eV: {frame.counts[0][row, column]:.0f} counts" in text
    assert f"710.2 eV: {frame.counts[1][row, column]:.0f} counts" in text
    assert f"x = {frame.li_map[row, column]:.2f}" in text
    # over the Li map too (its own view), the same pixel
    scene_point = panel.views[2].getViewBox().mapViewToScene(pg_point(column + 0.5, row + 0.5))
    panel.graphics.scene().sigMouseMoved.emit(scene_point)
    assert live_window.cursor_label.text() == text


def pg_point(x: float, y: float):
    from qtpy.QtCore import QPointF

    return QPointF(x, y)


def test_current_ticks_are_round_numbers_through_a_rest(live_window, qtbot):
    axis = live_window.electrochemistry.current_plot.getAxis("left")
    low, high = axis.range
    assert high - low >= 1e-9  # a rest's zero current does not collapse the axis
    qtbot.wait(50)
    levels = axis.tickValues(low, high, axis.height())
    strings = [
        text
        for spacing, values in levels
        for text in axis.tickStrings(values, axis.autoSIPrefixScale, spacing)
    ]
    assert strings
    for text in strings:
        digits = re.sub(r"[^0-9]", "", text).strip("0")
        assert len(digits) <= 3, f"tick {text!r} shows float noise"
    assert "e-" not in live_window.electrochemistry.readings_label.text()


def test_the_run_browser_says_what_each_run_is_and_refreshes_itself(qtbot, monitor_catalog):
    path, _, series_uids, stack_uid = monitor_catalog
    with Catalog.embedded(path) as catalog:
        window = MonitorWindow(catalog=catalog)
        window.browser.timer.setInterval(200)
        qtbot.addWidget(window)
        browser = window.browser
        rows = {
            uid: [browser.table.item(row, c).text() for c in range(browser.table.columnCount())]
            for row, uid in enumerate(browser.uids)
        }
        columns = [browser.table.horizontalHeaderItem(c).text() for c in range(8)]
        assert columns == ["date", "scan", "plan", "sample", "step", "direction", "C-rate", "uid"]
        assert browser.uids[0] == stack_uid  # newest first
        lithiation = rows[series_uids[1]]  # the first step's image run
        assert lithiation[2:4] == ["operando_images", "LiFePO4"]
        assert lithiation[4].startswith("1: ") and lithiation[5:7] == ["lithiation", "4"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", lithiation[0])
        assert rows[stack_uid][3] == "LFP-7"
        known = len(browser.uids)
        RE = RunEngine({}, context_managers=[])
        writer = catalog.writer()
        RE.subscribe(writer)
        bl = simulated_beamline()
        RE(stack(bl, ROIS[1], STACK_ENERGIES[:3], dwell_ms=0.2, md={"sample": "new"}))
        writer.flush()
        qtbot.waitUntil(lambda: len(browser.uids) == known + 1, timeout=10000)
        assert browser.table.item(0, 3).text() == "new"
        window.close()


@pytest.fixture
def browsing_window(qtbot, monitor_catalog):
    """A shown monitor with the stored catalog's run browser."""
    with Catalog.embedded(monitor_catalog[0]) as catalog:
        window = MonitorWindow(catalog=catalog)
        qtbot.addWidget(window)
        window.show()
        yield window
        window.close()


def test_a_stack_opens_with_the_spectrum_at_the_cursor(
    qtbot, browsing_window, monitor_catalog, tmp_path
):
    window, stack_uid = browsing_window, monitor_catalog[3]
    window.open_stored_run(stack_uid)
    qtbot.waitUntil(lambda: window.stack_viewer is not None, timeout=60000)
    viewer = window.stack_viewer
    assert viewer.values.shape == (len(STACK_ENERGIES), 22, 34)
    assert np.allclose(viewer.energies, STACK_ENERGIES)
    box = viewer.view.getViewBox()
    # on the particle: the Fe L3 peak of Fe2+ (708.2 eV) or Fe3+ (710.2 eV); the image is on
    # stage axes, pixel (11, 17) of the 34 x 22 ROI centred at (-0.9, 0.2) um at 40 nm
    roi, step_um = ROIS[0], 0.04
    x_um = roi.center_x_um + (17 - (roi.num_x - 1) / 2) * step_um
    y_um = roi.center_y_um + (11 - (roi.num_y - 1) / 2) * step_um
    viewer.graphics.scene().sigMouseMoved.emit(box.mapViewToScene(pg_point(x_um, y_um)))
    assert viewer.pixel == (11, 17)
    energies, od = viewer.spectrum_curve.getData()
    peak = energies[np.argmax(od)]
    assert min(abs(peak - 708.2), abs(peak - 710.2)) <= 0.2
    assert od.max() > 0.5
    read = re.search(r"stack at stage \((\S+), (\S+)\) um", window.cursor_label.text())
    assert (float(read[1]), float(read[2])) == pytest.approx((x_um, y_um), abs=step_um / 2)
    # in the blank corner: no absorption beyond counting noise (~1 % at these counts)
    corner = viewer.pixel_to_um(1.5, 1.5)
    viewer.graphics.scene().sigMouseMoved.emit(box.mapViewToScene(pg_point(*corner)))
    _, blank = viewer.spectrum_curve.getData()
    assert np.abs(blank).max() < 0.06
    viewer.slider.setValue(8)
    assert viewer.shown_energy() == pytest.approx(708.2)
    assert viewer.energy_line.value() == pytest.approx(708.2)
    assert np.array_equal(viewer.image.image, viewer.values[8])
    # a region inside the particle: its mean spectrum, fitted by the two phases' references,
    # gives the simulated platelet's thickness (150 nm; 15 % for the probe's blur and noise)
    viewer.region.setPos(viewer.pixel_to_um(9, 14))  # rows 9-12, columns 14-19
    viewer.region.setSize((6 * step_um, 4 * step_um))
    assert viewer.region_pixels() == (slice(9, 13), slice(14, 20))
    energies, region = viewer.region_curve.getData()
    assert len(energies) == len(STACK_ENERGIES) and np.all(np.isfinite(region))
    _, fitted = viewer.fit_curve.getData()
    thickness_nm = float(
        re.search(r"region: (\d+) nm", viewer.spectrum_plot.plotItem.titleLabel.text).group(1)
    )
    assert thickness_nm == pytest.approx(150.0, rel=0.15)
    assert 0.0 <= viewer.fraction <= 1.0
    assert np.sqrt(np.mean((fitted - region) ** 2)) < 0.1 * region.max()  # two phases fit it
    # each phase's reference, at its fitted thickness, overlaid across the measured energies
    names = [label.text for _, label in viewer.spectrum_plot.getPlotItem().legend.items]
    assert {"LiFePO4", "FePO4"} <= set(names)
    for curve in viewer.phase_curves:
        drawn, _ = curve.getData()
        assert drawn.min() >= energies.min() and drawn.max() <= energies.max()
        assert len(drawn) > len(energies)  # the tables' own grid, finer than the stack's
    saved = viewer.save_spectra(tmp_path / "spectra" / "stack.csv")
    rows = list(csv.DictReader(saved.open()))
    assert len(rows) == len(STACK_ENERGIES)
    assert float(rows[8]["region_OD"]) == pytest.approx(region[8])


def test_a_run_opened_after_live_shows_each_particle_once(qtbot, browsing_window, monitor_catalog):
    from stxm_operando.gui.panels import ParticlePanel

    _, documents, series_uids, _ = monitor_catalog
    window = browsing_window
    for name, doc in documents:
        window.document(name, doc)
    window.refresh()
    window.open_stored_run(series_uids[0])
    assert window.statusBar().currentMessage().startswith(f"reading run {series_uids[0][:8]}")
    qtbot.waitUntil(lambda: window.sources[-1].isFinished(), timeout=60000)
    qtbot.waitUntil(lambda: "documents read" in window.statusBar().currentMessage())
    read = window.sources[-1].documents
    assert read > 0 and f"{read} documents read" in window.statusBar().currentMessage()
    window.refresh()
    shown = [p for p in window.findChildren(ParticlePanel) if p.isVisible()]
    assert sorted(p.particle_id for p in shown) == [0, 1]


def test_the_raster_being_flown_fills_line_by_line(qtbot):
    """An image whose lines come in several event pages is drawn as its pages arrive: the
    lines in so far where they belong, blank below, and the title says how far it is."""
    from stxm_operando.plans import ParticleROI, two_energy_image

    roi = ParticleROI(0, -0.9, 0.2, 100, 20)  # 0.2 s of counting per line: 5 lines a page
    documents = []
    RE = RunEngine({})
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    RE(two_energy_image(simulated_beamline(), roi, dwell_ms=2.0))
    pages = [d for n, d in documents if n == "event_page" and "raster_row" in d["data"]]
    assert [page["data"]["raster_row"] for page in pages[:2]] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    window = MonitorWindow()
    qtbot.addWidget(window)
    window.show()
    for name, doc in documents[: documents.index(("event_page", pages[1])) + 1]:
        window.document(name, doc)
    window.refresh()
    drawn = window.raster.image.image
    assert drawn.shape == (roi.num_y, roi.num_x)
    flown = [line for page in pages[:2] for line in page["data"]["raster_counts"]]
    assert np.array_equal(drawn[:10], flown)
    assert np.isnan(drawn[10:]).all()
    assert window.raster.plot.titleLabel.text == "particle 0 at 708.2 eV: 10/20 lines"
    # drawn on fine-stage axes where the plan was told to put the raster (its pixels' edges)
    rect = window.raster.rect_um
    step_um = 0.04
    assert (rect.left(), rect.top()) == pytest.approx((-0.9 - 50 * step_um, 0.2 - 10 * step_um))
    assert (rect.width(), rect.height()) == pytest.approx((100 * step_um, 20 * step_um))
    assert window.raster.plot.getAxis("bottom").labelText == "fine x (um)"
    for name, doc in documents[documents.index(("event_page", pages[1])) + 1 :]:
        window.document(name, doc)
    window.refresh()
    assert window.raster.plot.titleLabel.text == "particle 0 at 710.2 eV: 20/20 lines"
    assert np.isfinite(window.raster.image.image).all()


def test_the_field_find_particles_surveyed_shows_the_particles_it_found(qtbot):
    """The overview is the find_particles run's thickness map on holder axes (um), with a
    box for each particle: the ROIs the plan returned, around the simulated particles."""
    from stxm_operando.plans import find_particles

    bl = simulated_beamline()
    documents = []
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    rois = RE(find_particles(bl, num_x=80, num_y=60)).plan_result
    window = MonitorWindow()
    qtbot.addWidget(window)
    window.show()
    for name, doc in documents:
        window.document(name, doc)
    window.refresh()
    overview = window.overview
    assert window.overview_dock.isVisible()  # raised when a field is surveyed
    assert overview.plot.titleLabel.text.endswith(": 2 particles found")
    assert overview.plot.getAxis("bottom").labelText == "x on the holder (um)"
    truth = [tuple(p.center_um) for p in bl.config.sim.particles]
    step_um = 0.04
    for roi, box, label in zip(rois, overview.boxes, overview.labels, strict=True):
        (x, y), (width, height) = box.pos(), box.size()
        assert (x + width / 2, y + height / 2) == pytest.approx((roi.center_x_um, roi.center_y_um))
        assert (width, height) == pytest.approx((roi.num_x * step_um, roi.num_y * step_um))
        assert label.textItem.toPlainText() == f"particle {roi.particle_id}"
        assert any(  # around a simulated particle, 0.1 um at most from its centre
            abs(x + width / 2 - cx) < 0.1 and abs(y + height / 2 - cy) < 0.1 for cx, cy in truth
        )
    image = overview.image.mapRectToParent(overview.image.boundingRect())  # um, pixel edges
    assert (image.center().x(), image.center().y()) == pytest.approx((0.0, 0.0), abs=step_um)
    assert (image.width(), image.height()) == pytest.approx((80 * step_um, 60 * step_um))
