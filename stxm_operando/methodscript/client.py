"""A host's side of a MethodSCRIPT instrument over any pyserial URL (``/dev/ttyACM0``,
``socket://host:port``, ``rfc2217://...``): identification, running a script whose packages
stream to a callback, and aborting it.

One reader thread takes every line the instrument sends. Replies to ``t``/``i`` go to the
caller waiting for them; a script's lines (packages, loop marks, a runtime ``!XXXX`` and the
empty line that ends it) go to the script's callbacks. Every failure (an error reply, a
timeout, a lost port) is a ``MethodScriptError`` naming the command, never a hang.
"""

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import serial

from .codec import MethodScriptError, PackageValue, error_code, parse_package

REPLY_TIMEOUT_S = 5.0
log = logging.getLogger(__name__)

DEVICE_MODELS = {  # the firmware reply's device code -> (model, potential range +-V)
    "es4_lr": ("EmStat4 LR", 3.0),
    "es4_hr": ("EmStat4 HR", 6.0),
    "mes4lr": ("MultiEmStat4 LR", 3.0),
    "mes4hr": ("MultiEmStat4 HR", 6.0),
    "nexus1": ("Nexus", 10.0),
    "espico": ("EmStat Pico", 2.0),
}


@dataclass(frozen=True)
class Identity:
    """What the instrument says it is: ``t`` (firmware) and ``i`` (serial number)."""

    device_code: str
    model: str
    firmware: str
    serial_number: str
    potential_range_V: float

    def as_metadata(self) -> dict[str, str | float]:
        return {
            "model": self.model,
            "firmware": self.firmware,
            "serial_number": self.serial_number,
            "potential_range_V": self.potential_range_V,
        }


class MethodScriptClient:
    """Connects at once (MethodScriptError if the port cannot be opened).

    Parameters
    ----------
    url : a device path or pyserial URL.
    timeout_s : how long a reply may take, s.
    """

    def __init__(self, url: str, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.url, self.timeout_s = url, timeout_s
        try:
            self._port = serial.serial_for_url(url, baudrate=230400, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as err:
            raise MethodScriptError(f"cannot open the potentiostat's port {url!r}: {err}") from err
        self._write_lock = threading.Lock()
        self._replies: queue.Queue[str] = queue.Queue()
        self._on_package: Callable[[list[PackageValue]], None] | None = None
        self._on_end: Callable[[str], None] | None = None
        self._acknowledged = threading.Event()
        self._ack = ""
        self.lost: str = ""
        """Why the port was lost ("" while it works)."""
        self.unsolicited = 0
        """Packages that arrived with no script of ours running (one was running on connect)."""
        self._closed = False
        self._reader = threading.Thread(target=self._read, name=f"methodscript {url}", daemon=True)
        self._reader.start()

    # --- commands ----------------------------------------------------------------------
    def identify(self) -> Identity:
        """Ask ``t`` and ``i``."""
        lines = self._ask("t", until=lambda line: line.endswith("*"))
        head = lines[0][1:]
        code = head[:6]
        model, potential_range = DEVICE_MODELS.get(code, (f"unknown ({code})", 0.0))
        firmware = head[6:].split("#", 1)[0]
        (serial_reply,) = self._ask("i", until=lambda line: True)
        return Identity(code, model, firmware, serial_reply[1:], potential_range)

    def run(
        self,
        script: list[str],
        on_package: Callable[[list[PackageValue]], None],
        on_end: Callable[[str], None],
    ) -> None:
        """Start ``script`` and return once the instrument accepted it. ``on_package`` gets each
        package's values and ``on_end`` why the script ended ("" when by itself, or the error)
        on the reader thread."""
        self._on_package, self._on_end = on_package, on_end
        self._acknowledged.clear()
        self._send(["e", *script, ""])
        if not self._acknowledged.wait(self.timeout_s):
            self._on_package = self._on_end = None
            raise MethodScriptError("the instrument did not accept the script", command="e")
        code = error_code(self._ack)
        if code is not None:
            self._on_package = self._on_end = None
            line = self._ack.partition("Line ")[2].split(",")[0]
            where = (
                script[int(line) - 1].strip() if line.isdigit() and int(line) <= len(script) else ""
            )
            raise MethodScriptError(
                "the instrument refused the script", command=where or "e", code=code
            )

    def abort(self) -> None:
        """``Z``: the instrument skips to the script's ``on_finished:`` (cell off)."""
        self._send(["Z"])

    def close(self) -> None:
        self._closed = True
        self._reader.join(2)  # it reads in 50 ms slices and then sees the close
        self._port.close()

    # --- the line -----------------------------------------------------------------------
    def _send(self, lines: list[str]) -> None:
        if self.lost:
            raise MethodScriptError(f"the port is lost: {self.lost}", command=lines[0])
        data = "".join(f"{line}\n" for line in lines).encode("ascii")
        try:
            with self._write_lock:
                self._port.write(data)
                self._port.flush()
        except (serial.SerialException, OSError) as err:
            raise MethodScriptError(
                f"writing to {self.url} failed: {err}", command=lines[0]
            ) from err

    def _ask(self, command: str, until: Callable[[str], bool]) -> list[str]:
        while not self._replies.empty():
            self._replies.get_nowait()
        self._send([command])
        lines = []
        while True:
            try:
                line = self._replies.get(timeout=self.timeout_s)
            except queue.Empty:
                raise MethodScriptError("no reply", command=command) from None
            if not lines and not line.startswith(command):
                continue  # a stray line from before
            code = error_code(line)
            if code is not None:
                raise MethodScriptError("the instrument refused", command=command, code=code)
            lines.append(line)
            if until(line):
                return lines

    def _read(self) -> None:
        buffer = b""
        while not self._closed:
            try:
                data = self._port.read(1)  # the first byte, or nothing within 50 ms
                if data:
                    data += self._port.read(self._port.in_waiting)
            except (serial.SerialException, OSError, TypeError) as err:
                if not self._closed:
                    self._lose(f"{type(err).__name__}: {err}")
                return
            buffer += data
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                self._line(raw.decode("ascii", "replace").rstrip("\r"))

    def _line(self, line: str) -> None:
        if line[:1] == "e" and not self._acknowledged.is_set() and self._on_end is not None:
            self._ack = line
            self._acknowledged.set()
        elif line.startswith("P"):
            if self._on_package is None:
                self.unsolicited += 1
                return
            try:
                self._on_package(parse_package(line))
            except Exception:  # a corrupt line or a failing callback: logged, the step goes on
                log.exception("package %r not taken", line)
        elif self._on_end is not None and (line == "" or line.startswith("!")):
            on_end, self._on_package, self._on_end = self._on_end, None, None
            on_end("" if line == "" else f"instrument error {line}")
        elif self._on_end is None and line:
            self._replies.put(line)  # a reply to t, i or Z

    def _lose(self, reason: str) -> None:
        self.lost = reason
        on_end, self._on_package, self._on_end = self._on_end, None, None
        if on_end is not None:
            on_end(f"the port was lost ({reason})")
