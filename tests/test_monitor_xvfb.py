"""The monitor in a real window on a real X server (Xvfb), Qt's xcb platform: it starts,
draws a live run and is captured from the X server's own framebuffer."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

WINDOW = """
import sys
from qtpy.QtWidgets import QApplication
from bluesky import RunEngine
from stxm_operando.devices import simulated_beamline
from stxm_operando.gui.monitor import MonitorWindow
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando

app = QApplication([])
window = MonitorWindow()
window.resize(int(sys.argv[2]), int(sys.argv[3]))
window.show()
RE = RunEngine({}, context_managers=[])
RE.subscribe(window.document)
protocol = [Galvanostatic(c_rate=4.0, duration_s=300.0), Rest(120.0)]
RE(operando(simulated_beamline(), protocol, [ParticleROI(0, -0.9, 0.2, 34, 22)], every_s=60.0))
window.refresh()
for _ in range(20):
    app.processEvents()
screen = app.primaryScreen()
screen.grabWindow(0).save(sys.argv[1])  # the X server's framebuffer, not a widget render
print(app.platformName(), screen.size().width(), screen.size().height(), flush=True)
"""


@pytest.fixture
def x_display(tmp_path):
    """An Xvfb server of the test's own (no TCP), stopped at the end; yields DISPLAY."""
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is not installed (scripts/ensure-system-libs.sh test)"
    display = f":{90 + os.getpid() % 400}"
    server = subprocess.Popen(
        [xvfb, display, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    socket = f"/tmp/.X11-unix/X{display[1:]}"
    while not os.path.exists(socket):
        assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.1)
    yield display
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_the_monitor_opens_in_a_real_x_window(x_display, tmp_path, size):
    from qtpy.QtGui import QImage

    shot = tmp_path / f"monitor_{size[0]}x{size[1]}.png"
    env = dict(os.environ, DISPLAY=x_display, QT_QPA_PLATFORM="xcb")
    done = subprocess.run(
        [sys.executable, "-c", WINDOW, str(shot), str(size[0]), str(size[1])],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["xcb", "1920", "1080"]
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1920, 1080)
    pixels = np.array([image.pixel(x, y) for x in range(0, 1920, 37) for y in range(0, 1080, 29)])
    assert len(np.unique(pixels)) > 50  # a drawn window, not an empty screen
