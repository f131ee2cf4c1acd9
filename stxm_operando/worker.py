"""One worker for everything that must not hold up its caller: the live analysis behind the
RunEngine, the catalog writer, the monitor's 0MQ source.

bluesky ships ``bluesky.callbacks.buffer.BufferingWrapper`` for this, but it raises into the
RunEngine when its queue is full (a slow analysis would then stop an acquisition), cannot
wait for its backlog without shutting down, and neither counts nor reports the documents its
callback failed on. This worker queues without limit, can be joined with a timeout, and
keeps the failures.
"""

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class _Marker:
    """Put in the queue by ``join``: set once everything before it is handled."""

    def __init__(self) -> None:
        self.reached = threading.Event()


_CLOSE = object()


class Worker:
    """Hands each item ``put`` to ``handle`` on a daemon thread of its own, in order.

    An item ``handle`` raises on is logged and counted (``failures``, ``last_failure``) and
    the worker goes on with the next one.

    Examples
    --------
    >>> seen = []
    >>> worker = Worker(seen.append, name="example")
    >>> worker.put(1); worker.put(2)
    >>> worker.join(timeout=10)
    True
    >>> seen
    [1, 2]
    >>> worker.close()
    """

    def __init__(self, handle: Callable[[Any], None], name: str = "worker") -> None:
        self.handle = handle
        self.failures = 0
        self.last_failure = ""
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        """Queue ``item`` (never blocks, never drops)."""
        self._queue.put(item)

    @property
    def backlog(self) -> int:
        """Items waiting to be handled."""
        return self._queue.qsize()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every item put so far is handled; False if ``timeout`` (s) ran out."""
        marker = _Marker()
        self._queue.put(marker)
        return marker.reached.wait(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Handle what is queued, then end the thread (waiting up to ``timeout`` s)."""
        self._queue.put(_CLOSE)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (item := self._queue.get()) is not _CLOSE:
            if isinstance(item, _Marker):
                item.reached.set()
                continue
            try:
                self.handle(item)
            except Exception as err:  # reported, never raised into the caller
                self.failures += 1
                self.last_failure = f"{type(err).__name__}: {err}"
                log.exception("%s failed on an item; going on", self._thread.name)
