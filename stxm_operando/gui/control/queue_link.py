"""The control window's one connection to the RE manager: bluesky-queueserver-api's 0MQ
client on a thread of its own, so a slow or absent manager never freezes the window.

Everything the window does goes through the queue server's public API, so IPython and any
other queue client see the same queue and can do the same things.
"""

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from qtpy.QtCore import QObject, Signal

log = logging.getLogger(__name__)

CELL_FUNCTION = "cell_state"
"""The queue server's startup module function that reads the cell (``queue.startup``)."""


@dataclass
class QueueSnapshot:
    """What the RE manager said at one poll.

    Attributes
    ----------
    reachable : whether the manager answered.
    status : its status (``manager_state``, ``worker_environment_exists``, ...).
    queue : the queued items, first to run first.
    running : the item running, or None.
    history : finished items, oldest first, each with its ``result`` (``exit_status``).
    cell : the potentiostat's state as the worker environment reads it (mode, output,
        voltage_V, current_A, charge_C, trip_reason, max_current_A), or None.
    progress : the newest progress line the manager's console printed.
    error : why the manager did not answer.
    """

    reachable: bool = False
    status: dict = field(default_factory=dict)
    queue: list = field(default_factory=list)
    running: dict | None = None
    history: list = field(default_factory=list)
    cell: dict | None = None
    progress: str = ""
    error: str = ""


class QueueLink(QObject):
    """Polls the RE manager every ``poll_s`` s and runs the window's commands, in order, on
    one thread.

    ``updated`` carries a ``QueueSnapshot`` after each poll; ``failed`` the message of a
    command the manager refused or could not take (the window shows it); ``done`` the
    description of a command that succeeded. ``api`` is a ``REManagerAPI`` (built from the
    addresses when not given).
    """

    updated = Signal(object)
    failed = Signal(str)
    done = Signal(str)

    def __init__(
        self,
        control_address: str = "tcp://127.0.0.1:60615",
        info_address: str | None = "tcp://127.0.0.1:60625",
        poll_s: float = 1.0,
        api=None,
    ) -> None:
        super().__init__()
        if api is None:
            from bluesky_queueserver_api.zmq import REManagerAPI

            api = REManagerAPI(
                zmq_control_addr=control_address,
                zmq_info_addr=info_address,
                timeout_recv=max(2.0, 2 * poll_s),
            )
        self.api, self.poll_s = api, poll_s
        self.snapshot = QueueSnapshot()
        self._commands: queue.Queue = queue.Queue()
        self._closing = threading.Event()
        self._uids = (None, None)
        self._console = info_address is not None
        self._thread = threading.Thread(target=self._run, name="queue-link", daemon=True)
        self._thread.start()

    def command(self, description: str, call: Callable[[], dict | None]) -> None:
        """Run ``call`` (a call of ``self.api``) on the link's thread; its reply's
        ``success`` False or an exception is emitted as ``failed`` with ``description``."""
        self._commands.put((description, call))

    def close(self, timeout: float = 10.0) -> None:
        """Stop polling and close the client."""
        self._closing.set()
        self._commands.put(None)
        self._thread.join(timeout)
        self.api.close()

    def _run(self) -> None:
        if self._console:
            self.api.console_monitor.enable()
        while not self._closing.is_set():
            try:
                item = self._commands.get(timeout=self.poll_s)
            except queue.Empty:
                item = None
            if item is not None:
                self._execute(*item)
            if not self._closing.is_set():
                self._poll()

    def _execute(self, description: str, call: Callable[[], dict | None]) -> None:
        try:
            reply = call()
        except Exception as err:  # the manager refused the request or did not answer
            self.failed.emit(f"{description}: {err}")
            return
        if isinstance(reply, dict) and not reply.get("success", True):
            self.failed.emit(f"{description}: {reply.get('msg', 'refused')}")
        else:
            self.done.emit(description)

    def _poll(self) -> None:
        snapshot = self.snapshot
        try:
            status = self.api.status()
            uids = (status.get("plan_queue_uid"), status.get("plan_history_uid"))
            if uids != self._uids or status.get("running_item_uid"):
                queued = self.api.queue_get()
                history = self.api.history_get()["items"]
                self._uids = uids
            else:
                queued, history = None, snapshot.history
            snapshot = QueueSnapshot(
                reachable=True,
                status=status,
                queue=snapshot.queue if queued is None else queued["items"],
                running=snapshot.running if queued is None else queued["running_item"] or None,
                history=history,
                cell=self._cell(status),
                progress=self._progress(snapshot.progress),
            )
        except Exception as err:  # not started, gone, or too slow to answer
            snapshot = QueueSnapshot(error=f"{type(err).__name__}: {err}")
            self._uids = (None, None)
        self.snapshot = snapshot
        self.updated.emit(snapshot)

    def _cell(self, status: dict) -> dict | None:
        """The cell's state through the startup module's function, run in the background of
        the worker environment (also while a plan runs)."""
        if not status.get("worker_environment_exists"):
            return None
        from bluesky_queueserver_api import BFunc

        try:
            reply = self.api.function_execute(BFunc(CELL_FUNCTION), run_in_background=True)
            if not reply.get("success"):
                return None
            self.api.wait_for_completed_task(reply["task_uid"], timeout=5 * self.poll_s + 5)
            result = self.api.task_result(reply["task_uid"])["result"]
        except Exception as err:  # the environment is closing, or busy past the timeout
            log.info("cell state not read: %s", err)
            return None
        return result.get("return_value") if result.get("success") else None

    def _progress(self, previous: str) -> str:
        """The newest line of the manager's console that reports progress."""
        if not self._console:
            return previous
        latest = previous
        while True:
            try:
                message = self.api.console_monitor.next_msg(timeout=0.01)
            except Exception:  # no message within the timeout (or no monitor)
                return latest
            for line in message.get("msg", "").splitlines():
                if " left" in line:  # ProtocolReporter's and ImageReporter's lines
                    latest = line.strip()
