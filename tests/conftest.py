"""Shared fixtures. Channel Access is pointed at loopback before anything imports pyepics."""

import os
import socket
import subprocess
import sys
import time

import pytest

from stxm_operando.epics_env import use_local_channel_access


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CA_PORT = free_port()
use_local_channel_access(CA_PORT)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def sim():
    """A fresh simulated beamline with its devices."""
    from stxm_operando.devices import simulated_beamline

    return simulated_beamline()


@pytest.fixture(scope="module")
def ioc_process():
    """A caproto IOC subprocess serving the simulated beamline on 127.0.0.1:CA_PORT.

    Yields (process, prefix); stops the process afterwards and checks it is gone.
    """
    prefix = f"TST{os.getpid()}:"
    process = subprocess.Popen(
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
            "50",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process, prefix
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        assert process.poll() is not None


@pytest.fixture(scope="module")
def epics(ioc_process):
    """The EPICS-backed devices, connected to the test IOC."""
    from stxm_operando.devices import epics_beamline

    process, prefix = ioc_process
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            return epics_beamline(prefix=prefix, timeout=2.0)
        except TimeoutError:
            if time.monotonic() > deadline:
                raise
