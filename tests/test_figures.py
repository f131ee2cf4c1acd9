"""The saved figures: a command that names a file has written it. The folder is created;
a path that cannot be written is an OSError naming it, never a figure reported but absent."""

import numpy as np
import pytest
from qtpy.QtGui import QImage

from stxm_operando.gui.figures import (
    SCREENSHOT_SIZE,
    save_li_maps,
    save_monitor_screenshot,
    save_voltage_curve,
)
from stxm_operando.live_callbacks import OperandoAnalysis


def test_figures_go_into_folders_that_do_not_exist_yet(tmp_path, qapp):
    voltage = save_voltage_curve(
        np.arange(60.0),
        np.linspace(3.4, 3.0, 60),
        tmp_path / "a/v.png",
        current_A=np.full(60, 4e-6),
        image_times_s=[0.0, 30.0],
    )
    maps = [[np.full((9, 25), 0.3), np.full((9, 25), 0.7)]]
    li = save_li_maps(maps, ["lithiation #0"], ["frame 1", "frame 2"], tmp_path / "b/c/li.png")
    monitor = save_monitor_screenshot(OperandoAnalysis(), tmp_path / "d/monitor.png")
    for path in (voltage, li, monitor):
        image = QImage(str(path))  # read back as an image, not just a file
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert min(image.width(), image.height()) >= 200
    assert QImage(str(monitor)).size().width() == SCREENSHOT_SIZE[0]  # 1280x800, not 1333x833
    assert QImage(str(monitor)).size().height() == SCREENSHOT_SIZE[1]


def test_a_figure_that_cannot_be_written_is_an_error_naming_it(tmp_path, qapp):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        save_voltage_curve(np.arange(3.0), np.ones(3), blocker / "v.png")
    taken = tmp_path / "taken.png"
    taken.mkdir()  # a folder already has the figure's name
    with pytest.raises(OSError):
        save_voltage_curve(np.arange(3.0), np.ones(3), taken)
