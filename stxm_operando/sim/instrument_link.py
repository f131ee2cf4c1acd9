"""Serving the simulated MethodSCRIPT instrument the way a host reaches a real one: a TCP
socket (what pyserial's ``socket://host:port`` opens, as a serial-to-Ethernet bridge would) or
a pseudo-terminal (a serial port to any program), and a driver that runs its cell in (fast)
real time when no simulated beamline moves its clock."""

import os
import queue
import select
import socket
import threading
import time
import tty
from collections.abc import Callable

from .methodscript import MethodScriptInstrument

POLL_S = 0.01


class RealTimeDriver:
    """Advances a simulated beamline's clock with the wall clock, ``speed`` times faster, so
    a stand-alone instrument's loops stream in (accelerated) real time."""

    def __init__(self, world, speed: float = 1.0, tick_s: float = 0.02) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.world, self.speed, self.tick_s = world, speed, tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="instrument-clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.tick_s):
            now = time.monotonic()
            self.world.advance((now - last) * self.speed)
            last = now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _pump(instrument: MethodScriptInstrument, read: Callable[[], bytes | None], write) -> None:
    """Feed the host's lines to the instrument, and its replies back as they come (a thread
    of their own), until ``read`` says the host is gone (None). The instrument's script runs
    on whether or not a host is there."""
    gone = threading.Event()

    def send() -> None:
        while not gone.is_set():
            try:
                reply = instrument.replies.get(timeout=POLL_S)
            except queue.Empty:
                continue
            try:
                write((reply + "\n").encode())
            except OSError:
                gone.set()

    sender = threading.Thread(target=send, name="instrument-replies", daemon=True)
    sender.start()
    buffer = b""
    try:
        while not gone.is_set():
            data = read()
            if data is None:
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                instrument.receive(line.decode("ascii", "replace").rstrip("\r"))
    finally:
        gone.set()
        sender.join(1)


def serve_tcp(instrument: MethodScriptInstrument, host: str, port: int, ready=None) -> None:
    """Serve one host at a time on ``host:port`` (blocks; ``ready(port)`` once listening)."""
    with socket.create_server((host, port)) as server:
        if ready is not None:
            ready(server.getsockname()[1])
        while True:
            connection, _ = server.accept()
            _drain(instrument)  # what came while no host listened is gone, as on a serial line
            with connection:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

                def read(conn=connection) -> bytes | None:
                    readable, _, _ = select.select([conn], [], [], POLL_S)
                    if not readable:
                        return b""
                    try:
                        data = conn.recv(4096)
                    except OSError:
                        return None
                    return data or None

                _pump(instrument, read, connection.sendall)


def serve_pty(instrument: MethodScriptInstrument, ready=None) -> None:
    """Serve on a new pseudo-terminal (blocks; ``ready(path)`` with the serial port's path)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    if ready is not None:
        ready(os.ttyname(slave))

    def read() -> bytes:
        readable, _, _ = select.select([master], [], [], POLL_S)
        if not readable:
            return b""
        try:
            return os.read(master, 4096)
        except OSError:  # no host has the port open: wait for one
            time.sleep(POLL_S)
            return b""

    def write(data: bytes) -> None:
        try:
            os.write(master, data)
        except OSError:
            pass  # nobody is listening; a serial line drops it too

    _pump(instrument, read, write)


def _drain(instrument: MethodScriptInstrument) -> None:
    """Replies nobody will read (the host left): dropped, as a serial line drops them."""
    while not instrument.replies.empty():
        instrument.replies.get_nowait()
