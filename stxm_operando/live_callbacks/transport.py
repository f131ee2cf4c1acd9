"""Getting documents to callbacks: a worker thread, and 0MQ with JSON (never pickle)."""

import json
import queue
import threading
from collections.abc import Callable

from bluesky.callbacks.zmq import Proxy, Publisher

from ..storage import to_json

DEFAULT_PROXY_HOST = "127.0.0.1"


def serialize(doc: dict) -> bytes:
    """A document as JSON bytes (arrays as nested lists)."""
    return json.dumps(doc, default=to_json).encode()


def parse_message(message: bytes) -> tuple[bytes, str, dict]:
    """Split a bluesky Publisher message into (prefix, name, document)."""
    prefix, name, payload = message.split(b" ", 2)
    return prefix, name.decode(), json.loads(payload)


def json_publisher(address: str, prefix: bytes = b"") -> Publisher:
    """A bluesky Publisher to a 0MQ proxy that sends JSON instead of pickle."""
    return Publisher(address, prefix=prefix, serializer=serialize)


def run_proxy(in_port: int, out_port: int, host: str = DEFAULT_PROXY_HOST) -> None:
    """Run bluesky's 0MQ forwarding proxy (blocks). Binds ``host`` only."""
    Proxy(f"{host}:{in_port}", f"{host}:{out_port}").start()


class ThreadedCallback:
    """Run a callback on its own thread so the caller (the RunEngine) never waits for it.

    Documents queue without limit, so a slow consumer never loses any; ``join()`` waits
    for the backlog. An exception in the callback is re-raised at the next document.
    """

    def __init__(self, callback: Callable[[str, dict], None], name: str = "callback") -> None:
        self.callback = callback
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def __call__(self, name: str, doc: dict) -> None:
        if self._error is not None:
            raise RuntimeError(f"{self.callback!r} failed: {self._error}") from self._error
        self._queue.put((name, doc))

    @property
    def backlog(self) -> int:
        """Documents waiting to be processed."""
        return self._queue.qsize()

    def join(self) -> None:
        """Wait until every document so far has been processed."""
        self._queue.join()
        if self._error is not None:
            raise RuntimeError(f"{self.callback!r} failed: {self._error}") from self._error

    def _work(self) -> None:
        while True:
            name, doc = self._queue.get()
            try:
                if self._error is None:
                    self.callback(name, doc)
            except Exception as err:  # reported to the caller's thread
                self._error = err
            finally:
                self._queue.task_done()
