"""Document sources for the monitor: a live 0MQ stream and a stored run, each on a QThread.

Both feed documents to callbacks on their own thread (the analysis runs there, never on
the GUI thread) and emit ``received`` so the window knows something changed.
"""

import zmq
from qtpy.QtCore import QThread, Signal

from ..live_callbacks import parse_message


class ZmqDocumentSource(QThread):
    """Subscribes to a bluesky 0MQ proxy (JSON documents) and feeds the callbacks."""

    received = Signal(str)

    def __init__(self, address: str, callbacks, prefix: bytes = b"", parent=None) -> None:
        super().__init__(parent)
        self.address, self.callbacks, self.prefix = address, list(callbacks), prefix
        self._running = True

    def run(self) -> None:
        context = zmq.Context()
        socket = context.socket(zmq.SUB)
        socket.setsockopt(zmq.SUBSCRIBE, self.prefix)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(f"tcp://{self.address}")
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        try:
            while self._running:
                if not dict(poller.poll(100)):
                    continue
                _, name, doc = parse_message(socket.recv())
                for callback in self.callbacks:
                    callback(name, doc)
                self.received.emit(name)
        finally:
            socket.close()
            context.term()

    def stop(self) -> None:
        """Stop listening and wait for the thread to end."""
        self._running = False
        self.wait(5000)


class CatalogDocumentSource(QThread):
    """Replays a stored run (and its series) into the callbacks."""

    received = Signal(str)

    def __init__(self, catalog, uid: str, callbacks, parent=None) -> None:
        super().__init__(parent)
        self.catalog, self.uid, self.callbacks = catalog, uid, list(callbacks)
        self.error: Exception | None = None

    def run(self) -> None:
        from ..replay import replay_documents

        try:
            for name, doc in replay_documents(self.catalog, self.uid):
                for callback in self.callbacks:
                    callback(name, doc)
                self.received.emit(name)
        except Exception as err:  # shown by the window, not lost in the thread
            self.error = err
            self.received.emit("error")

    def stop(self) -> None:
        self.wait(30000)
