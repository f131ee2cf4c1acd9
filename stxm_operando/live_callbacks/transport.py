"""Getting documents to callbacks: a worker thread, and 0MQ with JSON (never pickle)."""

import json
import logging
import queue
import threading
from collections.abc import Callable

from bluesky.callbacks.zmq import Proxy, Publisher

from ..storage.journal import to_json

DEFAULT_PROXY_HOST = "127.0.0.1"
log = logging.getLogger(__name__)


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
    """Run a callback on its own thread so the caller (the RunEngine) never waits for it
    and never sees it fail.

    Documents queue without limit, so a slow consumer never loses any; ``join()`` waits
    for the backlog. A document the callback fails on is logged and counted
    (``failures``, ``last_failure``) and the callback goes on with the next one: a failure
    in analysis never stops an acquisition.
    """

    def __init__(self, callback: Callable[[str, dict], None], name: str = "callback") -> None:
        self.callback = callback
        self.failures = 0
        self.last_failure = ""
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def __call__(self, name: str, doc: dict) -> None:
        self._queue.put((name, doc))

    @property
    def backlog(self) -> int:
        """Documents waiting to be processed."""
        return self._queue.qsize()

    def join(self) -> None:
        """Wait until every document so far has been processed."""
        self._queue.join()

    def _work(self) -> None:
        while True:
            name, doc = self._queue.get()
            try:
                self.callback(name, doc)
            except Exception as err:  # reported, never raised into the RunEngine
                self.failures += 1
                self.last_failure = f"{name}: {type(err).__name__}: {err}"
                log.exception("%r failed on a %s document; going on", self.callback, name)
            finally:
                self._queue.task_done()
