"""What an IPython session prints while a protocol runs: each step's start and end, with the
time elapsed and left on the beamline clock (bluesky's progress bars show moves and holds;
this shows the protocol). A RunEngine callback outside the plans, which stay pure."""

import sys
from typing import TextIO

from event_model import unpack_event_page

from ..streams import PROTOCOL_STREAM
from .series import ProgressTracker, SeriesIndex, duration_text


class ProtocolReporter:
    """Print one line at each protocol milestone of an operando or electrochemistry run.

    Parameters
    ----------
    file : where the lines go (default: standard output).

    A failure to print (a closed terminal) is never raised into the RunEngine.
    """

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file
        self._index = SeriesIndex()
        self._tracker = ProgressTracker(self._index)

    def __call__(self, name: str, doc: dict) -> None:
        events = unpack_event_page(doc) if name == "event_page" else [doc]
        name = "event" if name == "event_page" else name
        for document in events:
            self._index(name, document)
            self._tracker(name, document)
            located = self._index.locate(document) if name == "event" else None
            if located and located[1] == PROTOCOL_STREAM:
                self._print(self.line(document["data"]))

    def line(self, data: dict) -> str:
        """The milestone's line: step n/N, what it is, and the protocol's time."""
        progress = self._tracker.progress
        steps = len(progress.protocol) or 1
        left = progress.left_s
        remaining = "time left unknown" if left is None else f"at most {duration_text(left)} left"
        event, reason = data["protocol_event"], data["protocol_reason"]
        what = "started" if event == "start" else f"ended ({reason})"
        return (
            f"step {progress.step + 1}/{steps} {progress.label} {what}; "
            f"cell {float(data['protocol_voltage']):.3f} V; "
            f"{duration_text(progress.elapsed_s)} elapsed, {remaining}"
        )

    def _print(self, line: str) -> None:
        try:
            print(line, file=self.file or sys.stdout, flush=True)
        except (OSError, ValueError):  # a closed or broken terminal: the run goes on
            pass
