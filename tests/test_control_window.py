"""The control window against a real RE manager and Redis started here: regions drawn with
the window's own ROI objects, a protocol built in its editor, queued, paused and resumed
from its buttons, run on the simulated beamline into the catalog with exactly those regions
and steps; a region off the stage is refused before anything is queued."""

import json

import pytest
from conftest import start_queue_manager

from stxm_operando.config import BeamlineConfig
from stxm_operando.gui.control import ControlWindow, QueueLink
from stxm_operando.storage import Catalog

WAIT_MS = 240_000  # the worker environment's start and the run, on a loaded 2-core machine


@pytest.fixture
def window(qtbot, redis, tmp_path):
    """A control window on a fresh RE manager; yields (window, catalog path)."""
    catalog = tmp_path / "catalog"
    manager, api = start_queue_manager(redis, catalog)
    api.close()
    link = QueueLink(manager.control_address, manager.info_address, poll_s=0.3)
    window = ControlWindow(link, BeamlineConfig())
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    try:
        yield window, catalog
    finally:
        window.close()  # closes the link
        manager.terminate()
        manager.wait(timeout=60)


def snapshot(window):
    return window.queue.snapshot  # what the window shows (the link's, once delivered)


def click(qtbot, window, text: str) -> None:
    from qtpy.QtCore import Qt

    qtbot.mouseClick(window.queue.buttons[text], Qt.MouseButton.LeftButton)


def test_a_protocol_drawn_and_queued_in_the_window_runs_with_those_regions(qtbot, window):
    window, catalog_path = window
    qtbot.waitUntil(lambda: snapshot(window).reachable, timeout=WAIT_MS)
    click(qtbot, window, "open environment")
    qtbot.waitUntil(lambda: snapshot(window).cell is not None, timeout=WAIT_MS)
    assert "cell: OCV, output off" in window.cell.text()

    first = window.regions.add_region()  # at the view's middle, then dragged and resized
    first.box.setPos((-1.6, -0.25))
    first.box.setSize((1.36, 0.88))
    second = window.regions.add_region(2.0, 1.5, 1.0, 1.0)
    second.box.setPos((6000.0, 0.0))  # off the coarse stage's travel
    assert not window.submit()
    assert "outside its travel" in window.message.text()
    assert second.problem and "refused" in second.label.textItem.toPlainText()
    second.box.setPos((1.5, 1.0))
    assert window.recheck() == ""

    editor = window.protocol
    editor.set_steps([])
    editor.add_step({"kind": "Galvanostatic"})
    editor.table.item(0, 1).setText("2")  # C-rate
    editor.table.item(0, 5).setText("900")  # duration, s
    editor.add_step({"kind": "Rest", "duration_s": 300.0})
    editor.every_s.setValue(60.0)
    editor.dwell_ms.setValue(0.5)
    editor.sample.setText("drawn")
    qtbot.wait(400)  # the recheck after the edits
    assert editor.verdict.text().startswith("ready:")
    assert window.submit()
    qtbot.waitUntil(lambda: len(snapshot(window).queue) == 1, timeout=WAIT_MS)
    assert window.queue.queue_table.item(0, 0).text() == "operando"
    editor.sample.setText("second")  # a second item: moved up, then deleted
    assert window.submit()
    qtbot.waitUntil(lambda: len(snapshot(window).queue) == 2, timeout=WAIT_MS)
    window.queue.queue_table.setCurrentCell(1, 0)
    click(qtbot, window, "item up")
    qtbot.waitUntil(lambda: snapshot(window).queue[0]["kwargs"]["sample"] == "second")
    window.queue.queue_table.setCurrentCell(0, 0)
    click(qtbot, window, "delete item")
    qtbot.waitUntil(lambda: len(snapshot(window).queue) == 1, timeout=WAIT_MS)
    assert snapshot(window).queue[0]["kwargs"]["sample"] == "drawn"

    click(qtbot, window, "start queue")
    qtbot.waitUntil(lambda: snapshot(window).running is not None, timeout=WAIT_MS)
    click(qtbot, window, "pause now")
    qtbot.waitUntil(
        lambda: (
            snapshot(window).status.get("manager_state") == "paused"
            or bool(snapshot(window).history)
        ),
        timeout=WAIT_MS,
    )
    paused = snapshot(window).status.get("manager_state") == "paused"
    assert paused, "the run ended before the pause reached it"
    qtbot.waitUntil(lambda: "output ON" in window.cell.text(), timeout=10_000)  # still driven
    assert " left" in window.queue.progress.text()  # the console's progress line
    click(qtbot, window, "resume")
    qtbot.waitUntil(lambda: len(snapshot(window).history) == 1, timeout=WAIT_MS)
    result = snapshot(window).history[0]["result"]
    assert result["exit_status"] == "completed", result.get("msg")
    assert window.queue.history_table.item(0, 2).text() == "completed"

    window.regions.target.setPos((0.5, -0.5))  # "move beam here": an mv item, run at once
    window.move_beam_to_target()
    qtbot.waitUntil(lambda: len(snapshot(window).history) == 2, timeout=WAIT_MS)
    moved = snapshot(window).history[1]
    assert moved["name"] == "mv" and moved["result"]["exit_status"] == "completed"
    assert moved["args"] == ["scanner.coarse_x", 0.0, "scanner.coarse_y", 0.0,
                             "scanner.fine_x", 0.5, "scanner.fine_y", -0.5]  # fmt: skip

    drawn = [
        {"particle_id": 0, "center_x_um": -0.92, "center_y_um": 0.19, "num_x": 34, "num_y": 22},
        {"particle_id": 1, "center_x_um": 2.0, "center_y_um": 1.5, "num_x": 25, "num_y": 25},
    ]
    with Catalog.embedded(catalog_path, read_only=True) as catalog:
        start = catalog.start(result["run_uids"][0])
    assert start["plan_name"] == "operando" and start["sample"] == "drawn"
    assert len(start["rois"]) == len(drawn)
    for stored, expected in zip(start["rois"], drawn, strict=True):
        assert stored == pytest.approx(expected, abs=1e-6)
    steps = [(s["kind"], s.get("c_rate"), s["duration_s"]) for s in start["protocol"]]
    assert steps == [("Galvanostatic", 2.0, 900.0), ("Rest", None, 300.0)]


def test_a_protocol_saved_and_loaded_as_json_and_toml_is_the_same(qtbot, tmp_path):
    from stxm_operando.gui.control import ProtocolEditor

    editor = ProtocolEditor()
    qtbot.addWidget(editor)
    steps = [
        {"kind": "Galvanostatic", "c_rate": 4.0, "until_V": 3.1, "duration_s": 600.0},
        {"kind": "HoldPotential", "voltage_V": 3.45, "until_current_A": 1e-8},
        {"kind": "Rest", "duration_s": 3600.0},
    ]
    editor.set_steps(steps)
    editor.dwell_ms.setValue(2.5)
    editor.energies.setText("706.0, 710.5")
    for name in ("protocol.json", "protocol.toml"):
        path = editor.to_file(tmp_path / name)
        loaded = ProtocolEditor()
        qtbot.addWidget(loaded)
        loaded.from_file(path)
        assert loaded.steps() == steps
        assert loaded.imaging() == editor.imaging()
        assert loaded.imaging()["energies"] == [706.0, 710.5]
    editor.table.item(0, 1).setText("four")
    with pytest.raises(ValueError, match="step 1: c_rate must be a number, got 'four'"):
        editor.steps()


CONTROL_WINDOW = """
import json, os, sys, time
from pathlib import Path
from qtpy.QtWidgets import QApplication

shots, catalog_path, tests, control, info = sys.argv[1:6]
sys.path.insert(0, tests)
from gui_checks import layout_problems
from stxm_operando.config import BeamlineConfig
from stxm_operando.gui.control import ControlWindow, QueueLink
from stxm_operando.gui.theme import apply_theme
from stxm_operando.storage import Catalog

app = QApplication([])
apply_theme()
screen = app.primaryScreen()
catalog = Catalog.embedded(catalog_path, read_only=True)
window = ControlWindow(QueueLink(control, info, poll_s=0.3), BeamlineConfig(), catalog)
window.resize(screen.availableGeometry().size())
window.show()

def wait_for(condition, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        app.processEvents()
        time.sleep(0.02)

wait_for(lambda: window.queue.snapshot.cell is not None)
assert window.load_newest_field()
found = len(window.regions.regions)
submitted = window.submit()
wait_for(lambda: len(window.queue.snapshot.queue) == 1)
for _ in range(30):
    app.processEvents()
screen.grabWindow(0).save(str(Path(shots) / "control.png"))  # the X framebuffer
report = {"platform": app.platformName(), "screen": [screen.size().width(),
          screen.size().height()], "problems": layout_problems(window), "regions": found,
          "refused": window.regions.problems(), "submitted": submitted,
          "cell": window.cell.text(), "queue": window.queue.queue_table.item(0, 0).text()}
window.close()
catalog.close()
print(json.dumps(report), flush=True)
os._exit(0)
"""


def test_the_control_window_on_a_real_x_display_with_a_surveyed_field(redis, tmp_path):
    """At 1280x800 under Xvfb: the field of a find_particles run queued through the manager,
    its particles as regions, an operando run of them queued; nothing cropped. The
    screenshot is kept in $STXM_OPERANDO_SCREENSHOTS when it is set."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from bluesky_queueserver_api import BPlan
    from qtpy.QtGui import QImage
    from test_monitor_xvfb import x_display

    catalog = tmp_path / "catalog"
    manager, api = start_queue_manager(redis, catalog)
    display, server = x_display(1280, 800)
    try:
        api.environment_open()
        api.wait_for_idle(timeout=180)
        api.item_add(BPlan("find_particles", "bl", num_x=80, num_y=60, step_nm=50.0))
        api.queue_start()
        api.wait_for_idle(timeout=180)
        result = api.history_get()["items"][-1]["result"]
        assert result["exit_status"] == "completed", result["msg"][-2000:]
        done = subprocess.run(
            [sys.executable, "-c", CONTROL_WINDOW, str(tmp_path), str(catalog),
             str(Path(__file__).parent), manager.control_address, manager.info_address],
            env=dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb"),
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
        api.close()
        manager.terminate()
        manager.wait(timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb" and report["screen"] == [1280, 800]
    assert report["problems"] == []
    assert report["regions"] >= 1 and report["refused"] == [] and report["submitted"]
    assert report["cell"].startswith("cell: OCV, output off") and report["queue"] == "operando"
    image = QImage(str(tmp_path / "control.png"))
    assert (image.width(), image.height()) == (1280, 800)
    keep = os.environ.get("STXM_OPERANDO_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "control.png", Path(keep) / "control_1280x800.png")
