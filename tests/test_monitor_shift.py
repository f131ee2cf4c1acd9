"""A monitor left open all shift: consecutive runs kept apart, joining mid-run, stored and
live runs never mixed."""

import numpy as np
from bluesky import RunEngine

from stxm_operando.devices import simulated_beamline
from stxm_operando.gui.monitor import MonitorWindow
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando

ROIS = [ParticleROI(0, -0.9, 0.2, 34, 22)]
PROTOCOL = [Galvanostatic(c_rate=4.0, duration_s=300.0), Rest(120.0)]


def operando_documents() -> list[tuple[str, dict]]:
    documents = []
    RE = RunEngine({}, context_managers=[])
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    RE(operando(simulated_beamline(), PROTOCOL, ROIS, every_s=60.0, dwell_ms=0.5))
    return documents


def test_two_consecutive_live_runs_stay_apart(qtbot):
    first, second = operando_documents(), operando_documents()
    window = MonitorWindow()
    qtbot.addWidget(window)
    for name, doc in first:
        window.document(name, doc)
    window.refresh()
    assert len(window.frames) == 7
    for name, doc in second[: len(second) // 2]:
        window.document(name, doc)
    window.refresh()
    series = second[0][1]["series_id"]
    assert window.frames and all(f.series_id == series for f in window.frames)
    assert window.slider.maximum() == len(window.frames) - 1  # no frames of the first run
    minutes, _ = window.electrochemistry.voltage_curve.getData()
    assert np.all(np.diff(minutes) > 0)  # one run's curve: no line back to t = 0
    assert window.analysis.progress.step == 0 and not window.analysis.progress.finished


def test_a_monitor_started_mid_run_shows_the_run_from_its_next_step(qtbot):
    documents = operando_documents()
    window = MonitorWindow()
    qtbot.addWidget(window)
    opens = [k for k, (n, d) in enumerate(documents) if n == "start"]
    late = opens[1] + 3  # joined after the first step's image run had begun
    for name, doc in documents[late:]:
        window.document(name, doc)  # never raises
    window.refresh()
    assert window.live_analysis.orphans > 0
    second_step = {f.frame_index for f in window.live_analysis.frames}
    assert second_step == {5, 6}  # the rest step's two passes, each complete
    assert window.frames  # shown


def test_a_stored_run_opened_while_live_is_not_fed_live_documents(qtbot, tmp_path):
    from stxm_operando.storage import Catalog

    documents = operando_documents()
    with Catalog.embedded(tmp_path / "catalog") as catalog:
        writer = catalog.writer()
        for name, doc in documents:
            writer(name, doc)
        writer.flush()
        window = MonitorWindow(catalog=catalog)
        qtbot.addWidget(window)
        window.open_stored_run(documents[0][1]["uid"])
        qtbot.waitUntil(lambda: window.sources[-1].isFinished(), timeout=60000)
        replayed = window.analysis.documents_seen
        for name, doc in operando_documents():  # the live stream carries on meanwhile
            window.document(name, doc)
        assert window.analysis.documents_seen == replayed  # the stored run stays clean
        assert window.live_analysis.documents_seen > 0
        window.show_live()
        window.refresh()
        assert window.analysis is window.live_analysis and len(window.frames) == 7
        window.close()


def test_the_monitor_starts_in_a_fresh_folder_before_any_run_is_stored(tmp_path):
    """The README's live-monitor block in its written order: the monitor comes first."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("STXM_OPERANDO_CATALOG", None)
    monitor = subprocess.Popen(
        [sys.executable, "-m", "stxm_operando.cli", "monitor", "--address", "127.0.0.1:9"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = monitor.stdout.readline()
        assert "no run browser" in line and "stxm-data/catalog" in line
        assert monitor.poll() is None  # still running: the window is up
    finally:
        monitor.terminate()
        monitor.wait(timeout=30)
    assert not (tmp_path / "stxm-data").exists()  # a reader writes nothing


def test_the_j0_fit_runs_off_the_gui_thread(qtbot, monkeypatch):
    import threading

    import stxm_operando.gui.exchange_plot as monitor

    threads = []
    real = monitor.fit_j0

    def recording_fit(*args):
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(monitor, "fit_j0", recording_fit)
    window = MonitorWindow()
    qtbot.addWidget(window)
    RE = RunEngine({}, context_managers=[])
    RE.subscribe(window.document)
    protocol = [Galvanostatic(c_rate=4.0, duration_s=600.0)]
    RE(operando(simulated_beamline(), protocol, ROIS, every_s=60.0, dwell_ms=0.5))
    window.refresh()
    window.wait_for_fits()
    assert threads and threading.main_thread() not in threads
    x, fitted = window.exchange.fit_curve.getData()
    assert x is not None and np.all(np.isfinite(fitted))
