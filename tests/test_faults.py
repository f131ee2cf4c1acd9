"""Faults: the IOC dying mid-run, a cutoff mid-image, a full disk, pause and resume; and
bad input to every command."""

import math
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from caproto.sync.client import read as ca_read
from conftest import connect_epics, start_ioc, stop_ioc, unpacked

from stxm_operando.cli import main as cli_main
from stxm_operando.devices import simulated_beamline
from stxm_operando.live_callbacks import OperandoAnalysis
from stxm_operando.live_callbacks.lines import assembled
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando
from stxm_operando.plans.estimates import imaging_pass_s
from stxm_operando.storage import Catalog
from stxm_operando.storage.replay import replay

ROI = ParticleROI(0, -0.9, 0.2, 30, 20)


def read_when_up(pv: str, ioc, timeout: float = 60.0):
    """The value of ``pv`` read by caproto's own client once the IOC answers."""
    deadline = time.monotonic() + timeout
    while True:
        assert ioc.poll() is None, "the IOC exited"
        try:
            response = ca_read(pv, timeout=2.0, repeater=False)
        except TimeoutError:
            assert time.monotonic() < deadline, f"{pv} never answered"
            continue
        return response.data[0]  # an enum reads as its string


def test_ioc_stopped_mid_run_fails_cleanly_keeps_data_and_restarts_at_ocv(tmp_path):
    prefix = f"FLT{os.getpid()}:"
    ioc = start_ioc(prefix, speed=25)
    try:
        bl = connect_epics(prefix, ioc)
        images = []

        def kill_ioc_after_six_images(name, doc):
            for line in unpacked(name, doc):
                if line["data"].get("raster_row") == ROI.num_y - 1:  # an image's last line
                    images.append(line)
                    if len(images) == 6:  # three passes: two are whole whatever the race
                        threading.Thread(target=stop_ioc, args=(ioc,)).start()

        with Catalog.embedded(tmp_path / "catalog") as catalog:
            writer = catalog.writer()
            RE = RunEngine({}, context_managers=[])
            RE.subscribe(writer)
            RE.subscribe(kill_ioc_after_six_images)
            started = time.monotonic()
            with pytest.raises(Exception) as failure:
                RE(
                    operando(
                        bl,
                        # 288 s of wall time at speed 25: far longer than the IOC takes to stop
                        [Galvanostatic(c_rate=0.5, duration_s=7200.0)],
                        [ROI],
                        every_s=30.0,
                        dwell_ms=0.2,
                    )
                )
            assert time.monotonic() - started < 200  # failed, did not hang
            assert failure.value is not None
            writer.flush()
            (uid,) = catalog.search(plan_name="operando")
            documents = list(catalog.documents(uid))
            assert documents[-1][0] == "stop" and documents[-1][1]["exit_status"] == "fail"
            # the cause is what the run and the user see, not the clean-up that failed after
            # it (switching the dead IOC's cell off), which is noted on the cause
            assert "Pstat:Mode" not in documents[-1][1]["reason"], documents[-1][1]["reason"]
            notes = " ".join(getattr(failure.value, "__notes__", []))
            assert "switching the cell off afterwards failed too" in notes, notes
            analysis = OperandoAnalysis()
            replay(catalog, uid, analysis)
            # what was taken before the IOC died
            stored = [
                (d["data"]["frame_index"], d["data"]["raster_energy"], d["data"]["raster_lines"])
                for n, d in assembled(documents)
                if n == "event" and "raster_image" in d["data"]
            ]
            assert len(analysis.frames) >= 2, (
                analysis.failures,
                stored,
                len(images),
                failure.value,
            )
            assert len(analysis.electrochemistry()["index"]) > 0
        ioc = start_ioc(prefix, speed=25)
        # read by a fresh client: this process's channels to the dead IOC reconnect only
        # as Channel Access's search back-off allows (no repeater hears the new beacons)
        mode, output = (
            read_when_up(f"{prefix}Pstat:Mode", ioc),
            read_when_up(f"{prefix}Pstat:Output", ioc),
        )
        assert mode == b"OCV" and output == 0
    finally:
        stop_ioc(ioc)


def test_cutoff_crossed_mid_image_ends_the_step_and_keeps_the_image():
    bl = simulated_beamline()
    RE = RunEngine({}, call_returns_result=True)
    docs = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    big_slow = ParticleROI(0, -0.9, 0.2, 60, 40)  # 2400 px at 25 ms: 60 s per image
    protocol = [Galvanostatic(c_rate=10.0, until_V=3.2, duration_s=2000.0), Rest(60.0)]
    every_s = math.ceil(imaging_pass_s(bl.config, [big_slow], (708.2, 710.2), 40.0, 25.0))
    result = RE(operando(bl, protocol, [big_slow], every_s=every_s, dwell_ms=25.0))  # no gaps
    reason = result.plan_result[0]
    trip_time = float(reason.rsplit("t = ", 1)[1].split()[0])
    images = [d["data"] for n, d in assembled(docs) if n == "event" and "raster_image" in d["data"]]
    during = [i for i in images if i["raster_start_time"] <= trip_time <= i["raster_end_time"]]
    assert len(during) == 1  # the cutoff fell inside an image, which was kept whole
    assert np.shape(during[0]["raster_image"]) == (40, 60) and during[0]["raster_complete"]
    after = [i for i in images if i["raster_start_time"] > trip_time]
    assert after and all(abs(i["potentiostat_current"]) < 1e-12 for i in after)
    assert bl.potentiostat.output.get() == 0


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from bluesky import RunEngine
    from stxm_operando.devices import simulated_beamline
    from stxm_operando.plans import Galvanostatic, ParticleROI, operando
    from stxm_operando.storage import Catalog, CatalogError

    catalog = Catalog.embedded(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # from here on no file may grow past 300 kB (the journal's images reach it in about ten
    # passes): the files fill up as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
    bl = simulated_beamline()
    RE = RunEngine({})
    RE.subscribe(catalog.writer())
    try:
        RE(operando(bl, [Galvanostatic(c_rate=2.0, duration_s=1800.0)],
                    [ParticleROI(0, -0.9, 0.2, 30, 20)], every_s=60.0, dwell_ms=0.2))
    except CatalogError as err:
        print("STOPPED:", err)
        print("CELL:", bl.potentiostat.mode.get(), bl.potentiostat.output.get())
        sys.exit(4)
""")


def test_a_full_disk_stops_the_run_with_a_clear_error_and_the_cell_off(tmp_path):
    path = tmp_path / "catalog"
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 4, result.stderr[-3000:]
    # whichever file fills first (journal or SQLite) stops the run with a clear error
    assert "STOPPED:" in result.stdout
    assert ("File too large" in result.stdout) or ("disk I/O error" in result.stdout)
    assert "CELL: OCV 0" in result.stdout
    with Catalog.embedded(path) as catalog:  # what was written is readable
        (uid,) = catalog.search(plan_name="operando")
        names = [n for n, _ in catalog.documents(uid)]
        assert names[0] == "start" and names.count("event") >= 1


def test_pause_resume_duplicates_nothing_in_the_analysis():
    bl = simulated_beamline()
    RE = RunEngine({}, context_managers=[])
    analysis = OperandoAnalysis()
    RE.subscribe(analysis)
    paused = []

    def pause_twice(name, doc):
        for line in unpacked(name, doc):
            if (
                "raster_counts" in line["data"]
                and len(paused) < 2
                and line["seq_num"] in (2 * ROI.num_y, 5 * ROI.num_y)  # an image's last line
            ):
                paused.append(line["seq_num"])
                threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()

    RE.subscribe(pause_twice)
    protocol = [Galvanostatic(c_rate=4.0, duration_s=360.0), Rest(120.0)]
    plan = operando(bl, protocol, [ROI], every_s=60.0, dwell_ms=0.2)
    with pytest.raises(RunEngineInterrupted):  # the first pause
        RE(plan)
    resumed_into_a_pause = 0
    while RE.state == "paused":
        bl.clock.set(20.0)  # beamline time passes while paused (Ctrl-C in IPython)
        try:
            RE.resume()
        except RunEngineInterrupted:  # the second pause
            resumed_into_a_pause += 1
    assert resumed_into_a_pause == 1 and RE.state == "idle"
    assert paused == [2 * ROI.num_y, 5 * ROI.num_y]
    keys = [(f.frame_index, f.particle_id) for f in analysis.frames]
    assert len(keys) == len(set(keys)) == 8  # 6 + 2 frames, each once
    index = analysis.electrochemistry()["index"]
    assert np.array_equal(index, np.arange(index[0], index[0] + len(index)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ioc", "--speed", "-1", "--port", "1"], "must be positive"),
        (["ioc", "--config", "/nonexistent.toml"], "does not exist"),
        (["demo", "--config", "/nonexistent.toml"], "does not exist"),
        (["ipython", "--config", "/nonexistent.toml"], "does not exist"),
        (["replay", "0123456789", "--catalog", "/nonexistent"], "no catalog"),
        (["export", "0123456789", "--catalog", "/nonexistent", "--csv", "x"], "no catalog"),
        (["export", "0123456789"], "needs --nxstxm"),
        (["monitor", "--catalog", "/nonexistent"], "no catalog"),
        (["catalog-server", "--path", "/tmp", "--host", "0.0.0.0"], "needs an API key"),
        (["catalog-server", "--path", "/tmp", "--api-key", "not alnum!"], "letters and digits"),
        (["proxy", "--in-port", "70000"], "port"),
        (["ioc", "--config", "."], "cannot be read"),
        (["replay", "0123456789", "--catalog", "."], "no catalog"),
        (["ioc", "--host", "0.0.0.0"], "--allow-remote"),
        (["frobnicate"], "invalid choice"),
        # refused before the demo runs (hostile probes, issue 27)
        (["demo", "--output", "/proc/out"], "cannot write in /proc/out"),
        (["demo", "--publish", "notaport"], "host:port"),
        (["queue-server", "--redis", f"127.0.0.1:{free_port()}"], "no Redis at 127.0.0.1"),
    ],
)
def test_bad_command_lines_give_a_clear_error(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TILED_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    code, errors = run_cli(capsys, *argv)
    assert code == 2
    assert message in errors
    assert "Traceback" not in errors
    assert list(tmp_path.iterdir()) == []  # nothing written


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """The command line run in this process: its exit status and what it wrote to stderr
    (argparse's usage errors exit through SystemExit, as they do for a user)."""
    try:
        code = cli_main(list(argv))
    except SystemExit as exit:
        code = exit.code
    return code, capsys.readouterr().err


def test_corrupt_catalogs_port_clashes_and_unwritable_exports_are_one_clear_line(tmp_path, capsys):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "catalog.db").write_bytes(b"this is not an SQLite database" * 100)
    code, errors = run_cli(capsys, "replay", "0123456789", "--print", "--catalog", str(corrupt))
    assert code == 2 and "not a readable catalog" in errors
    assert "Traceback" not in errors
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, errors = run_cli(
            capsys, "proxy", "--in-port", str(port), "--out-port", str(free_port())
        )
    assert code == 2 and "cannot bind" in errors
    assert "Traceback" not in errors
