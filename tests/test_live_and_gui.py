"""Live callbacks and the PyQtGraph monitor: 0MQ on loopback, replay, analysis documents."""

import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from bluesky import RunEngine
from event_model import DocumentNames, schema_validators

from stxm_operando.devices import simulated_beamline
from stxm_operando.gui.monitor import MonitorWindow
from stxm_operando.gui.sources import ZmqDocumentSource
from stxm_operando.live_callbacks import (
    AnalysisPublisher,
    OperandoAnalysis,
    ThreadedCallback,
    json_publisher,
)
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando
from stxm_operando.storage import Catalog
from stxm_operando.storage.replay import replay

ROIS = [ParticleROI(0, -0.9, 0.2, 34, 22), ParticleROI(1, 1.0, -0.4, 34, 22)]
PROTOCOL = [
    Galvanostatic(c_rate=4.0, duration_s=300.0),
    Rest(120.0),
    Galvanostatic(c_rate=-4.0, duration_s=240.0),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def proxy():
    """bluesky's 0MQ proxy in its own process, bound to 127.0.0.1."""
    in_port, out_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stxm_operando.cli",
            "proxy",
            "--in-port",
            str(in_port),
            "--out-port",
            str(out_port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert "0MQ proxy" in process.stdout.readline()
    yield in_port, out_port
    process.terminate()
    process.wait(timeout=10)
    assert process.poll() is not None


def run_operando(*callbacks, bl=None):
    bl = bl or simulated_beamline()
    RE = RunEngine({}, context_managers=[], call_returns_result=True)
    for callback in callbacks:
        RE.subscribe(callback)
    return RE(operando(bl, PROTOCOL, ROIS, every_s=60.0, dwell_ms=0.5))


def assert_window_matches(window: MonitorWindow, live: OperandoAnalysis) -> None:
    assert len(window.frames) == len(live.frames) > 10
    assert window.slider.maximum() == len({f.frame_index for f in live.frames}) - 1
    for particle_id, panel in window.panels.items():
        latest = [f for f in live.frames if f.particle_id == particle_id][-1]
        assert np.array_equal(panel.frame.li_map, latest.li_map, equal_nan=True)
        assert np.array_equal(panel.images[0].image, latest.counts[0])
        assert np.allclose(panel.images[3].image, np.nan_to_num(latest.analysis.rate))
    minutes, voltage = window.electrochemistry.voltage_curve.getData()
    assert np.allclose(minutes * 60.0, live.electrochemistry()["time"])
    assert np.allclose(voltage, live.electrochemistry()["voltage"])
    assert window.table.columnCount() == len(ROIS)  # a column per particle
    assert window.table.verticalHeaderItem(1).text() == "<x>"
    assert float(window.table.item(1, 0).text()) == pytest.approx(
        [f for f in live.frames if f.particle_id == 0][-1].mean_fraction, abs=1e-3
    )


def test_live_operando_reaches_the_monitor_through_a_0mq_proxy(qtbot, proxy, tmp_path):
    in_port, out_port = proxy
    window = MonitorWindow()
    qtbot.addWidget(window)
    window.show()
    heard: list[dict] = []
    window.attach(
        ZmqDocumentSource(
            f"127.0.0.1:{out_port}", [window.document, lambda name, doc: heard.append(doc)]
        )
    )
    assert window.connection_label.text() == f"live 127.0.0.1:{out_port}: waiting"
    assert window.progress_label.text() == f"waiting for documents from 127.0.0.1:{out_port}"
    publisher = json_publisher(f"127.0.0.1:{in_port}")
    live, sent = OperandoAnalysis(), []
    try:
        # 0MQ drops what is published before the subscription is through: ping until it is
        deadline = time.monotonic() + 30
        while window.analysis.documents_seen == 0:
            assert time.monotonic() < deadline, "the monitor never heard the proxy"
            publisher("ping", {})
            qtbot.wait(100)
        publisher("ping", {"last": True})  # 0MQ keeps order: pings in flight arrive before it
        qtbot.waitUntil(lambda: any(doc.get("last") for doc in heard), timeout=10000)
        pings = window.analysis.documents_seen
        run_operando(publisher, live, lambda name, doc: sent.append(name))
        expected = pings + len(sent)
        qtbot.waitUntil(lambda: window.analysis.documents_seen == expected, timeout=30000)
    finally:
        publisher.close()
    qtbot.waitUntil(lambda: window._seen == expected, timeout=5000)  # the timer redrew
    assert_window_matches(window, live)
    assert window.connection_label.text() == f"live 127.0.0.1:{out_port}: {expected} documents"
    assert window.progress_bar.value() == window.progress_bar.maximum()  # by time: all done
    assert f"step {len(PROTOCOL)}/{len(PROTOCOL)}" in window.progress_label.text()
    assert "elapsed, at most 0 s left" in window.progress_label.text()
    window.grab().save(str(tmp_path / "monitor_live.png"))
    assert (tmp_path / "monitor_live.png").stat().st_size > 10_000
    window.close()


def test_a_replayed_run_gives_the_same_panels(qtbot, tmp_path):
    live = OperandoAnalysis()
    with Catalog.embedded(tmp_path / "catalog") as catalog:
        writer = catalog.writer()
        result = run_operando(writer, live)
        writer.flush()
        window = MonitorWindow(catalog=catalog)
        qtbot.addWidget(window)
        window.show()
        assert result.run_start_uids[0] in window.browser.search()
        window.open_stored_run(result.run_start_uids[0])
        qtbot.waitUntil(lambda: window.sources[-1].isFinished(), timeout=60000)
        window.refresh()  # the timer's last redraw may predate the source's last document
        assert_window_matches(window, live)
        window.grab().save(str(tmp_path / "monitor_replay.png"))
        window.close()


def test_scrubbing_and_pausing_the_display(qtbot):
    documents = []
    run_operando(lambda name, doc: documents.append((name, doc)))
    window = MonitorWindow()
    qtbot.addWidget(window)
    half = len(documents) // 2
    for name, doc in documents[:half]:
        window.document(name, doc)
    window.refresh()
    shown_frames = len(window.frames)
    window.slider.setValue(0)
    assert not window.follow.isChecked()
    first = [f for f in window.frames if f.frame_index == window.frame_indices[0]]
    assert np.array_equal(window.panels[0].frame.li_map, first[0].li_map, equal_nan=True)
    # the readout is the scrubbed frame's (counted from 1), not the newest frame's
    readout = window.frame_label.text()
    assert readout.startswith(f"frame 1/{len(window.frame_indices)}: ")
    assert f"{first[-1].voltage_V:.3f} V" in readout and "+4.00 uA" in readout
    assert f"{window.frames[-1].voltage_V:.3f} V" not in readout
    window.set_paused(True)
    for name, doc in documents[half:]:
        window.document(name, doc)  # acquisition and analysis carry on
    window.refresh()
    assert len(window.frames) == shown_frames  # the display did not move
    window.follow.setChecked(True)
    window.set_paused(False)
    assert len(window.frames) == len(window.analysis.frames) > shown_frames
    assert window.slider.value() == window.slider.maximum()


def test_a_slow_analysis_never_holds_up_the_runengine_nor_loses_documents():
    analysis = OperandoAnalysis()
    calls = []

    def slow(name, doc):
        time.sleep(1.0 if name == "stop" else 0.002)  # the run's end takes a second
        calls.append(name)
        analysis(name, doc)

    threaded = ThreadedCallback(slow)
    sent = []
    started = time.perf_counter()
    run_operando(threaded, lambda name, doc: sent.append(name))
    run_time = time.perf_counter() - started
    assert len(calls) < len(sent)  # the RunEngine did not wait for the analysis
    threaded.join()
    assert calls == sent
    direct = OperandoAnalysis()
    run_operando(direct)
    assert len(analysis.frames) == len(direct.frames)
    assert run_time < 60


def test_analysis_documents_are_valid_stored_and_replayable(tmp_path):
    def validate(name, doc):
        schema_validators[DocumentNames[name]].validate(doc)

    with Catalog.embedded(tmp_path / "catalog") as catalog:
        writer = catalog.writer()
        analysis = OperandoAnalysis()
        publisher = AnalysisPublisher(lambda n, d: (validate(n, d), writer(n, d)))
        analysis.frame_listeners.append(publisher)
        run_operando(writer, analysis)
        publisher.close()
        writer.flush()
        (uid,) = catalog.search(plan_name="operando_analysis")
        documents = list(catalog.documents(uid))
        for name, doc in documents:
            validate(name, doc)
        events = [d for n, d in documents if n == "event"]
        assert len(events) == len([f for f in analysis.frames if f.particle is not None])
        last = analysis.frames[-1]
        (descriptor,) = [
            d["uid"]
            for n, d in documents
            if n == "descriptor" and d["name"] == f"particle_{last.particle_id}_analysis"
        ]
        (stored,) = [
            e["data"]
            for e in events
            if e["descriptor"] == descriptor and e["data"]["frame_index"] == last.frame_index
        ]
        n = stored["n_channels"]
        assert n == len(last.particle.channels)
        assert np.allclose(np.asarray(stored["x_surf"])[:n], last.particle.x_surf)
        assert np.allclose(np.asarray(stored["j_ch"])[:n], last.particle.j_ch)
        assert np.isnan(np.asarray(stored["j_ch"])[n:]).all()
        shapes = {  # one shape per key and stream, whatever the channel count
            (e["descriptor"], key, np.shape(value))
            for e in events
            for key, value in e["data"].items()
        }
        assert len(shapes) == len({(d, k) for d, k, _ in shapes})
        assert stored["mean_x"] == pytest.approx(last.mean_fraction)
        replayed = []
        replay(catalog, uid, lambda name, doc: replayed.append(name))
        assert replayed.count("event") == len(events)


def test_a_stored_run_that_cannot_be_read_is_reported_in_the_window(qtbot, tmp_path):
    with Catalog.embedded(tmp_path / "catalog") as catalog:
        window = MonitorWindow(catalog=catalog)
        qtbot.addWidget(window)
        window.open_stored_run("no-such-run")
        qtbot.waitUntil(
            lambda: "reading the run failed" in window.statusBar().currentMessage(), timeout=30000
        )
        assert "no run 'no-such-run'" in window.statusBar().currentMessage()
        window.close()


def test_a_slow_monitor_loses_nothing_from_a_burst_and_counts_what_it_cannot_read(qtbot, proxy):
    from bluesky.callbacks.zmq import Publisher

    in_port, out_port = proxy
    got = []

    def slow(name, doc):  # an analysis far slower than the stream
        time.sleep(0.003)
        got.append((name, doc))

    source = ZmqDocumentSource(f"127.0.0.1:{out_port}", [slow])
    source.start()
    publisher = json_publisher(f"127.0.0.1:{in_port}")
    pickling = Publisher(f"127.0.0.1:{in_port}")  # bluesky's default: pickle
    try:
        deadline = time.monotonic() + 30
        while not got:  # the subscription is through once a ping arrives
            assert time.monotonic() < deadline, "the source never heard the proxy"
            publisher("ping", {})
            qtbot.wait(100)
        publisher("ping", {"last": True})  # 0MQ keeps order: pings in flight arrive before it
        qtbot.waitUntil(lambda: any(doc.get("last") for _, doc in got), timeout=10000)
        got.clear()
        # Three times 0MQ's default high-water mark of 1000 messages, each with a 32 x 32
        # frame (about 20 kB of JSON) so TCP's buffers cannot hold the burst either: a source
        # that fed its callbacks on the receiving thread lost 1001 of these 3000 (measured).
        # The burst is paced at 2500 messages/s, still 8 times faster than the analysis, so
        # the proxy keeps up even on a loaded machine and any loss is the source's own.
        burst, frame = 3000, np.linspace(0.0, 1.0, 32 * 32).reshape(32, 32)
        pickling("event", {"descriptor": "d", "seq_num": 0})
        for k in range(1, burst + 1):
            publisher("event", {"descriptor": "d", "seq_num": k, "data": {"v": k, "frame": frame}})
            if k % 50 == 0:
                time.sleep(0.02)
        qtbot.waitUntil(lambda: len(got) == burst, timeout=60000)
        assert [doc["seq_num"] for _, doc in got] == list(range(1, burst + 1))
        assert source.skipped == 1 and source.missing == 0
        publisher("event", {"descriptor": "d", "seq_num": burst + 5})  # 4 lost upstream
        qtbot.waitUntil(lambda: source.missing == 4, timeout=5000)
        # messages that are not (name, document) pairs: counted, skipped, the source goes on
        for garbage in (b" event 42", b" event " + b"[" * 100000 + b"]" * 100000, b"one"):
            publisher._socket.send(garbage)
        publisher("start", {"after": "garbage"})
        qtbot.waitUntil(lambda: any(doc.get("after") for _, doc in got), timeout=10000)
        assert source.skipped == 1 + 3 and source.isRunning()
    finally:
        publisher.close()
        pickling.close()
        source.stop()


SHOW = """
def show(name, doc):
    print(name, doc.get("seq_num", ""), flush=True)
    if name == "stop":
        os._exit(0)  # the run is complete
"""
LISTENERS = {
    "bluesky": f"""
import json, os, sys
from bluesky.callbacks.zmq import RemoteDispatcher
{SHOW}
dispatcher = RemoteDispatcher(sys.argv[1], deserializer=json.loads)
dispatcher.subscribe(show)
dispatcher.start()
""",
    "bluesky-widgets": f"""
import json, os, sys
from qtpy.QtWidgets import QApplication
from bluesky_widgets.qt.zmq_dispatcher import RemoteDispatcher
{SHOW}
app = QApplication([])
dispatcher = RemoteDispatcher(sys.argv[1], deserializer=json.loads)
dispatcher.subscribe(show)
dispatcher.start()
app.exec_()
""",
}


@pytest.mark.parametrize("consumer", LISTENERS)
def test_standard_remote_dispatchers_receive_the_json_stream(proxy, consumer):
    """bluesky's and bluesky-widgets' (Qt) RemoteDispatcher, given the JSON deserializer."""
    from event_model import compose_run

    in_port, out_port = proxy
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENERS[consumer], f"127.0.0.1:{out_port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    publisher = json_publisher(f"127.0.0.1:{in_port}")
    try:
        run = compose_run(metadata={"plan_name": "probe"})
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(listener.stdout), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not lines:  # the subscription is through once a start document arrives
            assert listener.poll() is None, listener.stderr.read()
            assert time.monotonic() < deadline, "RemoteDispatcher never heard the proxy"
            publisher("start", run.start_doc)
            time.sleep(0.2)
        bundle = run.compose_descriptor(
            name="primary", data_keys={"x": {"source": "s", "dtype": "number", "shape": []}}
        )
        publisher("descriptor", bundle.descriptor_doc)
        for k in range(5):
            publisher("event", bundle.compose_event(data={"x": k}, timestamps={"x": 0.0}))
        publisher("stop", run.compose_stop())
        listener.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        publisher.close()
        if listener.poll() is None:
            listener.kill()
            listener.wait(timeout=10)
    names = [line.split()[0] for line in lines]
    assert listener.returncode == 0, listener.stderr.read()
    assert names[-7:] == ["descriptor", *["event"] * 5, "stop"]
    assert [line.split()[1] for line in lines if line.startswith("event")] == list("12345")
