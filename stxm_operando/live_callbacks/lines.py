"""Images put together from the line events of fly-scanned rasters.

A raster is stored as it was taken, one event per line (the raster detector's ``row``,
``counts`` and the recorded ``x_positions`` / ``y_positions`` of each point: ``raster_row``
... with the default device names; ``streams.DataKeys`` finds them whatever the detector is
called). The analysis, the exports and the viewers work on images: ``ImageAssembler`` sits
in front of them and adds, after the lines of each image, one ``event`` holding the whole
image.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
from event_model import unpack_event_page

from ..limits import raster_line
from ..streams import RunKeys

LINE_ARRAYS = ("counts", "x_positions", "y_positions")


@dataclass
class _Image:
    key: tuple
    stream: str
    settings: dict  # the raster's configuration, its keys without the detector's prefix
    raster: str  # what the raster detector's data keys begin with
    lines: dict[int, dict] = field(default_factory=dict)  # row -> the line's event
    complete: bool = False


@dataclass(frozen=True)
class GrowingImage:
    """The raster being flown (or just finished), as far as it has come: what a display
    draws line by line.

    Attributes
    ----------
    stream : its stream (the particle's).
    energy_eV : the raster's energy.
    lines : lines flown so far.
    """

    stream: str
    energy_eV: float
    lines: int
    _image: _Image = field(repr=False)  # a copy, its lines as far as they had come

    def counts(self) -> np.ndarray:
        """(num_y, num_x) counts, NaN in the lines not flown yet (as an image cut short is
        put together)."""
        return _stack(self._image, sorted(self._image.lines), "counts").astype(float)

    def first_pixel_um(self) -> tuple[float, float]:
        """Fine-stage (x, y) of pixel (0, 0)'s centre as the raster was set up, um."""
        settings = self._image.settings
        start, _ = raster_line(
            settings["center_x"],
            settings["center_y"],
            int(settings["num_x"]),
            int(settings["num_y"]),
            settings["step"],
            0,
        )
        return start

    @property
    def step_um(self) -> float:
        """The raster's pixel size, um."""
        return float(self._image.settings["step"]) / 1e3


class ImageAssembler:
    """Call with each ``(name, doc)``; returns the documents to pass on: the document itself
    and an ``event`` for each image it completes (before a stop, its run's open images).

    The image event shares its stream's descriptor and carries the data of the image's
    last line with the lines stacked in row order, under the raster detector's name
    (``streams.DataKeys.key("raster", ...)``): ``image`` (num_y x num_x counts),
    ``x_positions`` and ``y_positions`` (um, as recorded), ``start_time`` of the first
    line, ``end_time`` of the last, ``lines`` (lines measured) and ``complete``. An image
    is complete when
    all its lines are in; one cut short (the next image began, or the run stopped) is
    passed on then, its missing lines' counts NaN at their written positions. An image
    begins at row 0 (a raster is flown from its first line) or when the frame index or
    the energy changes; a line measured twice within it (a pause and rewind) keeps its
    later reading.
    """

    def __init__(self) -> None:
        self._keys = RunKeys()
        self._descriptors: dict[str, tuple[str, str, dict, str]] = {}
        self._open: dict[tuple[str, str], _Image] = {}
        self._latest: _Image | None = None  # the image that took the newest line

    def growing(self) -> GrowingImage | None:
        """The image that took the newest line, with the lines it has so far (None before
        any line). A copy: the assembler may go on filling the image meanwhile."""
        image = self._latest
        if image is None:
            return None
        copy = replace(image, lines=dict(image.lines))
        return GrowingImage(image.stream, float(image.key[1]), len(copy.lines), copy)

    def __call__(self, name: str, doc: dict) -> list[tuple[str, dict]]:
        self._keys(name, doc)
        if name == "descriptor":
            raster = self._keys.of_run(doc["run_start"]).prefix("raster")
            settings = {  # the raster's settings, whichever object carries them
                key.removeprefix(raster): value
                for configuration in doc.get("configuration", {}).values()
                for key, value in configuration.get("data", {}).items()
                if key.startswith(raster)
            }
            stream = doc.get("name", "primary")
            self._descriptors[doc["uid"]] = (doc["run_start"], stream, settings, raster)
        elif name == "event":
            return [(name, doc), *self._line(doc)]
        elif name == "event_page":
            images = [image for event in unpack_event_page(doc) for image in self._line(event)]
            return [(name, doc), *images]
        elif name == "stop":
            return [*self.close(doc["run_start"]), (name, doc)]
        return [(name, doc)]

    def close(self, run: str | None = None) -> list[tuple[str, dict]]:
        """The image events of ``run``'s open images (of every run's: None), cut short:
        at a run's stop, or at the end of a run read without one (cut off)."""
        cut = [key for key in self._open if run is None or key[0] == run]
        return [self._emit(self._open.pop(key)) for key in cut]

    def _line(self, event: dict) -> list[tuple[str, dict]]:
        data = event["data"]
        if event["descriptor"] not in self._descriptors:
            return []
        run, stream, settings, raster = self._descriptors[event["descriptor"]]
        if f"{raster}counts" not in data:
            return []
        key = (int(data.get("frame_index", 0)), round(float(data[f"{raster}energy"]), 3))
        row = int(data[f"{raster}row"])
        emitted = []
        image = self._open.get((run, stream))
        if image is not None and (image.key != key or row == 0):
            emitted.append(self._emit(self._open.pop((run, stream))))
            image = None
        if image is None:
            image = self._open[(run, stream)] = _Image(key, stream, settings, raster)
        image.lines[row] = event
        self._latest = image
        if len(image.lines) == int(settings.get("num_y", 0)):
            image.complete = True
            emitted.append(self._emit(self._open.pop((run, stream))))
        return emitted

    def _emit(self, image: _Image) -> tuple[str, dict]:
        rows = sorted(image.lines)
        first, last = image.lines[rows[0]], image.lines[rows[-1]]
        newest = max(image.lines.values(), key=lambda e: e["time"])
        raster = image.raster
        line_keys = {f"{raster}{name}" for name in LINE_ARRAYS}
        data = {k: v for k, v in newest["data"].items() if k not in line_keys}
        stacked = {name: _stack(image, rows, name) for name in LINE_ARRAYS}
        data |= {
            f"{raster}image": stacked["counts"],
            f"{raster}x_positions": stacked["x_positions"],
            f"{raster}y_positions": stacked["y_positions"],
            f"{raster}start_time": first["data"][f"{raster}start_time"],
            f"{raster}end_time": last["data"][f"{raster}end_time"],
            f"{raster}lines": len(rows),
            f"{raster}complete": image.complete,
        }
        event = {
            "uid": f"{newest['uid']}-image",
            "descriptor": newest["descriptor"],
            "time": newest["time"],
            "seq_num": newest["seq_num"],
            "data": data,
            "timestamps": newest.get("timestamps", {}),
            "filled": {},
        }
        return "event", event


def _stack(image: _Image, rows: list[int], name: str) -> np.ndarray:
    """The lines' ``name`` arrays (``counts``, ``x_positions``, ``y_positions``) stacked by
    row; a raster's missing lines hold NaN counts at their written positions."""
    key = f"{image.raster}{name}"
    lines = {row: np.asarray(image.lines[row]["data"][key]) for row in rows}
    settings = image.settings
    num_y = int(settings.get("num_y", 0))
    if image.complete or not num_y:
        return np.stack([lines[row] for row in rows])
    num_x = len(lines[rows[0]])
    stacked = np.full((num_y, num_x), np.nan)
    for row in range(num_y):
        if row in lines:
            stacked[row] = lines[row]
        elif name != "counts":
            start, stop = raster_line(
                settings["center_x"], settings["center_y"], num_x, num_y, settings["step"], row
            )
            axis = 0 if name == "x_positions" else 1
            stacked[row] = np.linspace(start[axis], stop[axis], num_x)
    return stacked


def assembled(documents: Iterable[tuple[str, dict]]) -> Iterator[tuple[str, dict]]:
    """``documents`` with the image events an ``ImageAssembler`` adds (at their end, those
    of images a run without a stop left open)."""
    assembler = ImageAssembler()
    for name, doc in documents:
        yield from assembler(name, doc)
    yield from assembler.close()
