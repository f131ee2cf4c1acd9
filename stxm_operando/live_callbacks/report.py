"""What an IPython session prints while a protocol or an imaging run goes on: each step's
start and end, and the images as they come in, with the time elapsed and left on the
beamline clock (bluesky's progress bars show moves and holds; these show the protocol and
the images). RunEngine callbacks outside the plans, which stay pure."""

import logging
import sys
from typing import TextIO

from event_model import unpack_event_page

from ..streams import PROTOCOL_STREAM, DataKeys, particle_id_of
from .lines import ImageAssembler
from .series import ProgressTracker, SeriesIndex, duration_text

log = logging.getLogger(__name__)


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
                _print(self.line(document["data"]), self.file)

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


class ImageReporter:
    """Print a line as the images of an imaging run come in (``find_particles``, ``stack``,
    ``two_energy_image``, ``focus_scan``, an operando pass): the images done of the run's,
    what the newest was, and the beamline time elapsed and left at the pace so far. A long
    run prints about ``lines`` lines, its first and last image always; an operando pass
    prints once, when its last image is in.

    Parameters
    ----------
    file : where the lines go (default: standard output).
    lines : about how many lines a long run prints.

    A failure here is logged, never raised into the RunEngine.
    """

    def __init__(self, file: TextIO | None = None, lines: int = 20) -> None:
        self.file, self.lines = file, lines
        self._assembler = ImageAssembler()
        self._index = SeriesIndex()
        self._started_s: dict[str, float] = {}  # run uid -> its first image's start, s
        self._done: dict[str, int] = {}  # run uid -> images in

    def __call__(self, name: str, doc: dict) -> None:
        try:
            for name_, doc_ in self._assembler(name, doc):
                self._index(name_, doc_)
                if name_ == "event":
                    self._image(doc_)
        except Exception as err:  # a progress line is never worth an acquisition
            log.warning("image progress not reported: %s: %s", type(err).__name__, err)

    def _image(self, event: dict) -> None:
        located = self._index.locate(event)
        if located is None:
            return
        start, stream = located
        keys, data = DataKeys.of_start(start), event["data"]
        if keys.key("raster", "image") not in data or not start.get("rois"):
            return
        run = start["uid"]
        started = self._started_s.setdefault(run, float(data[keys.key("raster", "start_time")]))
        done = self._done[run] = self._done.get(run, 0) + 1
        total = len(start["rois"]) * len(start.get("energies") or [None])
        plan = start.get("plan_name", "run")
        every = max(1, round(total / self.lines))
        if done < total and (plan == "operando_images" or (done > 1 and done % every)):
            return
        particle = particle_id_of(stream)
        what = "the field" if particle is None else f"particle {particle}"
        energy = float(data[keys.key("raster", "energy")])
        cut = "" if data.get(keys.key("raster", "complete"), True) else ", cut short"
        elapsed = float(data[keys.key("raster", "end_time")]) - started
        left = elapsed / done * max(total - done, 0)
        _print(
            f"{plan}: image {done}/{total} ({what} at {energy:.2f} eV{cut}); "
            f"{duration_text(elapsed)} elapsed, about {duration_text(left)} left",
            self.file,
        )


def _print(line: str, file: TextIO | None) -> None:
    try:
        print(line, file=file or sys.stdout, flush=True)
    except (OSError, ValueError):  # a closed or broken terminal: the run goes on
        pass
