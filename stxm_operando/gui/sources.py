"""Document sources for the monitor: a live 0MQ stream and a stored run, each on a QThread.

Both feed documents to callbacks on their own thread (the analysis runs there, never on
the GUI thread) and emit ``received`` so the window knows something changed.
"""

import zmq
from qtpy.QtCore import QThread, Signal

from ..live_callbacks import check_address, parse_message
from ..worker import Worker


class ZmqDocumentSource(QThread):
    """Subscribes to a bluesky 0MQ proxy (JSON documents) and feeds the callbacks.

    The QThread only drains the socket (no receive limit) into an unbounded queue; a
    ``Worker`` decodes and feeds the callbacks, so a slow analysis never lets 0MQ's queues
    overflow. (bluesky's ``RemoteDispatcher`` runs the callbacks between receives, where a
    slow analysis lost 1001 of a 3000-event burst of 20 kB frames, measured; it also stops
    at a name that is not a document and only prints what it cannot decode.)

    What still goes wrong is counted, never silent: ``skipped`` messages that are not JSON
    documents (e.g. a pickling bluesky Publisher on the same proxy), ``missing``
    events (gaps in an event stream's ``seq_num``, e.g. a monitor that joined late or a
    queue that overflowed upstream) and documents a callback ``failed`` on (``error``).
    ``received`` reports ``"skipped"`` / ``"missing"`` / ``"failed"``.
    """

    received = Signal(str)

    def __init__(self, address: str, callbacks, prefix: bytes = b"", parent=None) -> None:
        super().__init__(parent)
        self.address, self.callbacks, self.prefix = check_address(address), list(callbacks), prefix
        self._running = True
        self._worker: Worker | None = None
        self._last_seq: dict[str, int] = {}
        self.skipped = self.missing = self.failed = 0
        self.error: Exception | None = None

    def run(self) -> None:
        self._worker = worker = Worker(self._feed, name="zmq-documents")
        context = zmq.Context()
        socket = context.socket(zmq.SUB)
        socket.setsockopt(zmq.RCVHWM, 0)  # never drop on this side: the queue absorbs bursts
        socket.setsockopt(zmq.SUBSCRIBE, self.prefix)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(f"tcp://{self.address}")
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        try:
            while self._running:
                if dict(poller.poll(100)):
                    worker.put(socket.recv())
        finally:
            socket.close()
            context.term()
            worker.close(30)

    @property
    def backlog(self) -> int:
        """Messages received but not yet fed to the callbacks."""
        return self._worker.backlog if self._worker else 0

    def _feed(self, message: bytes) -> None:
        try:
            _, name, doc = parse_message(message)
        except (ValueError, UnicodeDecodeError):  # not a JSON document
            self.skipped += 1
            self.received.emit("skipped")
            return
        if name == "event":
            self._check_sequence(doc)
        for callback in self.callbacks:
            try:
                callback(name, doc)
            except Exception as err:  # counted and shown; the stream goes on
                self.failed += 1
                self.error = err
                self.received.emit("failed")
        self.received.emit(name)

    def _check_sequence(self, doc: dict) -> None:
        descriptor, seq_num = doc.get("descriptor"), doc.get("seq_num")
        last = self._last_seq.get(descriptor)
        if last is not None and isinstance(seq_num, int) and seq_num > last + 1:
            self.missing += seq_num - last - 1
            self.received.emit("missing")
        if isinstance(seq_num, int):
            self._last_seq[descriptor] = max(seq_num, last or 0)

    def stop(self) -> None:
        """Stop listening, feed what was received, and wait for the thread to end."""
        self._running = False
        self.wait(35000)


class CatalogDocumentSource(QThread):
    """Replays a stored run (and its series) into the callbacks; ``received`` reports
    ``"error"`` if the run cannot be read (the window redraws on its timer, so thousands of
    documents are not thousands of signals to the GUI thread)."""

    received = Signal(str)

    def __init__(self, catalog, uid: str, callbacks, parent=None) -> None:
        super().__init__(parent)
        self.catalog, self.uid, self.callbacks = catalog, uid, list(callbacks)
        self.error: Exception | None = None
        self.documents = 0
        """Documents read so far (the window shows them while it reads)."""

    def run(self) -> None:
        from ..storage.replay import replay_documents

        try:
            for name, doc in replay_documents(self.catalog, self.uid):
                for callback in self.callbacks:
                    callback(name, doc)
                self.documents += 1
        except Exception as err:  # shown by the window, not lost in the thread
            self.error = err
            self.received.emit("error")

    def stop(self) -> None:
        self.wait(30000)
