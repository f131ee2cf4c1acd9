"""The monitor in a real window on a real X server (Xvfb, Qt's xcb platform) on a laptop's
1280x800 screen and a 1920x1080 one: live, replaying a stored series, scrubbed back to an
earlier frame, the run browser and a XANES stack, each captured from the X server's own
framebuffer, with nothing cropped. ``tools/screenshots.sh`` keeps them for the README."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

WINDOW = """
import json, os, sys
from pathlib import Path
from qtpy.QtWidgets import QApplication

shots, catalog_path, tests, series_uid, stack_uid = sys.argv[1:6]
sys.path.insert(0, tests)
from gui_checks import layout_problems
from stxm_operando.gui.monitor import MonitorWindow
from stxm_operando.storage.replay import replay_documents
from stxm_operando.storage import Catalog

app = QApplication([])
screen = app.primaryScreen()
catalog = Catalog.embedded(catalog_path)
window = MonitorWindow(catalog=catalog)
window.show()
report = {"platform": app.platformName(), "screen": [screen.size().width(),
          screen.size().height()], "problems": {}}

def settle():
    for _ in range(30):
        app.processEvents()
    window.wait_for_fits()
    app.processEvents()

def capture(view):
    settle()
    screen.grabWindow(0).save(str(Path(shots) / f"{view}.png"))  # the X framebuffer
    report["problems"][view] = layout_problems(window)

def wait_for(condition):
    while not condition():
        app.processEvents()

for name, doc in replay_documents(catalog, series_uid):  # as if live
    window.document(name, doc)
window.refresh()
capture("live")
window.open_stored_run(series_uid)
wait_for(lambda: window.sources[-1].isFinished())
window.refresh()
capture("replay")
window.slider.setValue(window.slider.maximum() // 3)  # scrubbed back to an earlier frame
capture("scrubbed")
window.runs_dock.raiseDock()
capture("browser")
window.particles_dock.raiseDock()
window.open_stored_run(stack_uid)
wait_for(lambda: window.stack_viewer is not None)
capture("stack")
window.close()
catalog.close()
print(json.dumps(report), flush=True)
os._exit(0)  # what was to be seen is measured: not Qt's teardown of a throwaway process
"""


def x_display(width: int, height: int):
    """An Xvfb server of this test's own (no TCP) with one screen of width x height."""
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is not installed (scripts/ensure-system-libs.sh test)"
    display = f":{90 + (os.getpid() + width) % 400}"
    server = subprocess.Popen(
        [xvfb, display, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    socket = f"/tmp/.X11-unix/X{display[1:]}"
    while not os.path.exists(socket):
        assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.1)
    return display, server


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_the_monitor_in_a_real_x_window_live_replay_and_stack(monitor_catalog, tmp_path, size):
    """Screenshots are kept in $STXM_OPERANDO_SCREENSHOTS when it is set."""
    from qtpy.QtGui import QImage

    catalog_path, _, series_uids, stack_uid = monitor_catalog
    display, server = x_display(*size)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                WINDOW,
                str(tmp_path),
                str(catalog_path),
                str(Path(__file__).parent),
                series_uids[0],
                stack_uid,
            ],
            env=dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb"),
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb" and report["screen"] == list(size)
    views = ("live", "replay", "scrubbed", "browser", "stack")
    assert report["problems"] == {view: [] for view in views}
    keep = os.environ.get("STXM_OPERANDO_SCREENSHOTS")
    for view in views:
        image = QImage(str(tmp_path / f"{view}.png"))
        assert (image.width(), image.height()) == size
        pixels = {image.pixel(x, y) for x in range(0, size[0], 23) for y in range(0, size[1], 17)}
        assert len(pixels) > 50  # a drawn window, not an empty screen
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp_path / f"{view}.png", Path(keep) / f"{view}_{size[0]}x{size[1]}.png")
