"""Shared fixtures. Channel Access is pointed at loopback before anything imports pyepics."""

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from event_model import unpack_event_page

from stxm_operando.epics_env import use_local_channel_access


def unpacked(name: str, doc: dict) -> list[dict]:
    """The events a document carries: itself if an event, one per row of an event page (a
    raster's lines arrive as pages), none otherwise."""
    if name == "event":
        return [doc]
    return list(unpack_event_page(doc)) if name == "event_page" else []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CA_PORT = free_port()
use_local_channel_access(CA_PORT)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# remote catalogs journal on this machine: keep the tests' journals out of the home folder
os.environ["STXM_OPERANDO_JOURNAL"] = tempfile.mkdtemp(prefix="stxm-operando-journal-")


@pytest.fixture
def no_device_io(monkeypatch):
    """Call it, and from then on any get or put outside the RunEngine raises: a plan that
    reads or moves a device other than through its messages fails the test."""
    from ophyd import Signal

    from stxm_operando.devices.sim_signals import WorldSignal

    def forbid():
        def refuse(self, *args, **kwargs):
            raise AssertionError(f"direct device I/O on {self.name} outside a RunEngine")

        for cls in (Signal, WorldSignal):
            monkeypatch.setattr(cls, "get", refuse)
            monkeypatch.setattr(cls, "put", refuse)

    return forbid


@pytest.fixture
def sim():
    """A fresh simulated beamline with its devices."""
    from stxm_operando.devices import simulated_beamline

    return simulated_beamline()


def start_ioc(prefix: str, speed: float = 50.0, config=None) -> subprocess.Popen:
    """A caproto IOC subprocess serving a fresh simulated beamline on 127.0.0.1:CA_PORT
    (configured from the TOML file ``config`` if given)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stxm_operando.cli",
            "ioc",
            "--host",
            "127.0.0.1",
            "--port",
            str(CA_PORT),
            "--prefix",
            prefix,
            "--speed",
            str(speed),
            *(["--config", str(config)] if config else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_ioc(process: subprocess.Popen) -> None:
    """Terminate an IOC subprocess (kill it if it does not stop) and reap it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def connect_epics(prefix: str, process: subprocess.Popen):
    """The EPICS-backed devices, once the IOC answers (within 30 s)."""
    from stxm_operando.devices import epics_beamline

    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            return epics_beamline(prefix=prefix, timeout=2.0)
        except TimeoutError:
            if time.monotonic() > deadline:
                raise


_MODULE_IOCS = itertools.count()


@pytest.fixture(scope="module")
def ioc_process():
    """An IOC for the module's tests; yields (process, prefix) and stops it afterwards."""
    prefix = f"TST{os.getpid()}{next(_MODULE_IOCS)}:"  # new names: no reconnect back-off
    process = start_ioc(prefix)
    try:
        yield process, prefix
    finally:
        stop_ioc(process)
        assert process.poll() is not None


@pytest.fixture(scope="module")
def epics(ioc_process):
    """The EPICS-backed devices, connected to the test IOC."""
    return connect_epics(ioc_process[1], ioc_process[0])


def _live_children() -> list[str]:
    """Command lines of this process's live (non-zombie) child processes."""
    children = []
    for stat in os.listdir("/proc"):
        if not stat.isdigit():
            continue
        try:
            with open(f"/proc/{stat}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                with open(f"/proc/{stat}/cmdline", "rb") as f:
                    children.append(f.read().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return children


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Every IOC, proxy, server or helper a test starts is gone when the tests end."""
    yield
    deadline = time.monotonic() + 10
    while _live_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _live_children() == []


from stxm_operando.plans import ParticleROI  # noqa: E402  (after Channel Access is set up)

MONITOR_ROIS = [ParticleROI(0, -0.9, 0.2, 34, 22), ParticleROI(1, 1.0, -0.4, 34, 22)]
STACK_ENERGIES = np.round(np.arange(705.0, 713.01, 0.4), 2)
"""Fe L3 stack energies, eV: 0.4 eV steps through both peaks (708.2 and 710.2 eV)."""


@pytest.fixture(scope="session")
def monitor_catalog(tmp_path_factory):
    """A catalog with an operando series of two particles (lithiation, rest) and then a
    XANES stack (sample "LFP-7"): (catalog path, the series' documents as the RunEngine
    emitted them, the series' start uids, the stack's start uid)."""
    from stxm_operando.devices import simulated_beamline
    from stxm_operando.plans import Galvanostatic, Rest, operando, stack
    from stxm_operando.run_engine import make_run_engine
    from stxm_operando.storage import Catalog

    path = tmp_path_factory.mktemp("monitor") / "catalog"
    documents = []
    protocol = [Galvanostatic(c_rate=4.0, duration_s=240.0), Rest(120.0)]
    with Catalog.embedded(path) as catalog:
        writer = catalog.writer()
        bl = simulated_beamline()
        RE = make_run_engine(bl, writer, context_managers=[])
        token = RE.subscribe(lambda name, doc: documents.append((name, doc)))
        series = RE(operando(bl, protocol, MONITOR_ROIS, every_s=60.0, dwell_ms=0.5))
        RE.unsubscribe(token)
        stack_run = RE(
            stack(bl, MONITOR_ROIS[0], STACK_ENERGIES, dwell_ms=1.0, md={"sample": "LFP-7"})
        )
        writer.flush()
    return path, documents, series.run_start_uids, stack_run.run_start_uids[0]


@pytest.fixture
def redis():
    """A Redis server of the test's own on loopback (no persistence); yields host:port."""
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed (scripts/ensure-system-libs.sh test)"
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


def start_queue_manager(redis: str, catalog: Path, *options: str):
    """``stxm-operando queue-server`` on free loopback ports, writing to ``catalog``, once it
    answers: (process, REManagerAPI); the process's ``control_address`` and ``info_address``
    say where it listens. Terminate the process when done."""
    from bluesky_queueserver_api.zmq import REManagerAPI

    control, info = free_port(), free_port()
    manager = subprocess.Popen(
        [sys.executable, "-m", "stxm_operando.cli", "queue-server", "--redis", redis,
         "--control-port", str(control), "--info-port", str(info), "--catalog", str(catalog),
         *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    api = REManagerAPI(
        zmq_control_addr=f"tcp://127.0.0.1:{control}", zmq_info_addr=f"tcp://127.0.0.1:{info}"
    )
    manager.control_address = f"tcp://127.0.0.1:{control}"
    manager.info_address = f"tcp://127.0.0.1:{info}"
    deadline = time.monotonic() + 60
    while True:
        assert manager.poll() is None, manager.stdout.read()[-3000:]
        try:
            api.status()
            return manager, api
        except Exception:  # not listening yet
            assert time.monotonic() < deadline, "the RE manager did not answer"
            time.sleep(0.5)
