"""Document routers that follow an operando series: which run and stream each event is
from, the electrochemistry log, where the protocol is, and the complete imaging passes.

Each is an ``event_model.DocumentRouter`` with one role; ``OperandoAnalysis`` feeds them in
turn, the ``SeriesIndex`` first (the others look events up in it).
"""

from dataclasses import dataclass, field

import numpy as np
from event_model import DocumentRouter

from ..streams import ELECTROCHEMISTRY_STREAM, PROTOCOL_STREAM, DataKeys, particle_id_of

IMAGE_PLANS = ("operando_images", "two_energy_image")
ELECTROCHEMISTRY_FIELDS = (
    "ec_index",
    "ec_time",
    "ec_voltage",
    "ec_current",
    "ec_charge",
    "ec_step",
)


class SeriesIndex(DocumentRouter):
    """The start documents seen and the (run, stream) of each descriptor.

    ``orphans`` counts events whose run began before this index saw its start (a monitor
    that joined mid-run): they are shown from the next run on.
    """

    def __init__(self) -> None:
        super().__init__()
        self.starts: dict[str, dict] = {}
        self.streams: dict[str, tuple[str, str]] = {}
        self.orphans = 0

    def start(self, doc: dict) -> None:
        self.starts[doc["uid"]] = doc

    def descriptor(self, doc: dict) -> None:
        if doc["run_start"] in self.starts:
            self.streams[doc["uid"]] = (doc["run_start"], doc.get("name", "primary"))

    def event(self, doc: dict) -> None:
        if doc["descriptor"] not in self.streams:
            self.orphans += 1

    def locate(self, event: dict) -> tuple[dict, str] | None:
        """The start document and stream name of ``event`` (None for an orphan)."""
        located = self.streams.get(event["descriptor"])
        if located is None:
            return None
        run, stream = located
        return self.starts[run], stream


def series_of(start: dict) -> str:
    """The series a run belongs to: its ``series_id``, or its own uid."""
    return start.get("series_id", start["uid"])


class ElectrochemistryLog(DocumentRouter):
    """The ``electrochemistry`` stream's readings keyed by (series, log index), so each is
    kept once however often it arrives (a resume, a replay)."""

    def __init__(self, index: SeriesIndex) -> None:
        super().__init__()
        self.index = index
        self._rows: dict[tuple[str, int], dict] = {}

    def event(self, doc: dict) -> None:
        located = self.index.locate(doc)
        if located is not None and located[1] == ELECTROCHEMISTRY_STREAM:
            data = doc["data"]
            key = (series_of(located[0]), int(data["ec_index"]))
            self._rows[key] = {f: data[f] for f in ELECTROCHEMISTRY_FIELDS}

    def arrays(self, series_id: str | None = None) -> dict[str, np.ndarray]:
        """The readings as arrays ordered by index (``time`` s, ``voltage`` V,
        ``current`` A, ``charge`` C, ``step``, ``index``), of one series or of all."""
        rows = [
            row
            for (series, _), row in sorted(self._rows.items())
            if series_id is None or series == series_id
        ]
        return {
            f.removeprefix("ec_"): np.array([r[f] for r in rows], dtype=float)
            for f in ELECTROCHEMISTRY_FIELDS
        }


@dataclass
class Progress:
    """Where the protocol is: step, its label, the last milestone, the beamline time (s) and
    when each step started (s, by step index)."""

    protocol: list[dict] = field(default_factory=list)
    step: int = 0
    label: str = ""
    last_event: str = ""
    time_s: float = 0.0
    finished: bool = False
    capacity_Ah: float = 0.0
    started_s: dict[int, float] = field(default_factory=dict)

    @property
    def elapsed_s(self) -> float:
        """Beamline time since the protocol's first step started, s."""
        return self.time_s - self.started_s[0] if 0 in self.started_s else 0.0

    @property
    def left_s(self) -> float | None:
        """Time the protocol should still take, s, from each step's expected duration (the
        running step's less what it has run): an upper bound, refined as steps end; None
        when a step to come has no estimate."""
        if self.finished:
            return 0.0
        expected = [step.get("expected_s") for step in self.protocol[self.step :]]
        if not expected or None in expected:
            return None
        if self.last_event == "end":  # the step is over, however early
            return float(sum(expected[1:]))
        running = self.time_s - self.started_s.get(self.step, self.time_s)
        return max(expected[0] - running, 0.0) + sum(expected[1:])


def duration_text(seconds: float) -> str:
    """A duration as people read it: "45 s", "12 min", "1 h 05 min".

    >>> duration_text(44.6), duration_text(725.0), duration_text(3900.0)
    ('45 s', '12 min', '1 h 05 min')
    """
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class ProgressTracker(DocumentRouter):
    """The newest operando series (``series_id``) and its ``progress``, from its protocol
    and electrochemistry streams."""

    def __init__(self, index: SeriesIndex) -> None:
        super().__init__()
        self.index = index
        self.series_id: str | None = None
        self.progress = Progress()

    def start(self, doc: dict) -> None:
        if doc.get("plan_name") == "operando":
            self.series_id = series_of(doc)
            self.progress = Progress(
                protocol=list(doc.get("protocol", [])),
                capacity_Ah=float(doc.get("capacity_Ah", 0.0)),
            )

    def event(self, doc: dict) -> None:
        located = self.index.locate(doc)
        stream = located[1] if located else None
        data, progress = doc["data"], self.progress
        if stream == ELECTROCHEMISTRY_STREAM:
            progress.time_s = max(progress.time_s, float(data["ec_time"]))
        elif stream == PROTOCOL_STREAM:
            progress.step, progress.last_event = int(data["protocol_step"]), data["protocol_event"]
            if data["protocol_event"] == "start":
                progress.label = data["protocol_reason"]
                progress.started_s[progress.step] = float(data["protocol_time"])
            progress.time_s = max(progress.time_s, float(data["protocol_time"]))

    def stop(self, doc: dict) -> None:
        if self.index.starts.get(doc["run_start"], {}).get("plan_name") == "operando":
            self.progress.finished = True


@dataclass(frozen=True)
class ImagingPass:
    """One particle's images at every energy of one frame (image events' data)."""

    start: dict
    stream: str
    frame_index: int
    images: list[dict]


class PassCollector(DocumentRouter):
    """Collects the complete image events of imaging runs by (run, particle stream, frame)
    and hands out each pass once all its energies are in (``take``). A pass cut short by its
    run's stop is dropped; one already handed out is never handed out again (a replayed
    reading after a pause)."""

    def __init__(self, index: SeriesIndex) -> None:
        super().__init__()
        self.index = index
        self._open: dict[tuple[str, str, int], dict[float, dict]] = {}
        self._handed_out: set[tuple[str, str, int]] = set()
        self._complete: list[ImagingPass] = []

    def event(self, doc: dict) -> None:
        located = self.index.locate(doc)
        if located is None:
            return
        start, stream = located
        keys, data = DataKeys.of_start(start), doc["data"]
        if (
            particle_id_of(stream) is None
            or start.get("plan_name") not in IMAGE_PLANS
            or not data.get(keys.key("raster", "complete"))  # never half a pair
        ):
            return
        key = (start["uid"], stream, int(data.get("frame_index", 0)))
        if key in self._handed_out:
            return
        images = self._open.setdefault(key, {})
        images[round(float(data[keys.key("raster", "energy")]), 3)] = data  # one per energy
        if len(images) == len(start["energies"]):
            self._handed_out.add(key)
            del self._open[key]
            self._complete.append(ImagingPass(start, stream, key[2], list(images.values())))

    def stop(self, doc: dict) -> None:
        for key in [k for k in self._open if k[0] == doc["run_start"]]:
            del self._open[key]

    def take(self) -> list[ImagingPass]:
        """The passes completed since the last call."""
        complete, self._complete = self._complete, []
        return complete
