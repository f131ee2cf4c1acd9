"""Rasters flown line by line: one event per line, emitted as event pages, the image put
together from them."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from bluesky.utils import Msg, MsgGenerator

from ..devices import Beamline

PAGE_COUNTING_S = 1.0
"""Counting time of the lines gathered into one event page, s: a consumer of the documents
(the monitor, the catalog) sees a long image grow about once a second, and an image that
counts for less than that arrives as one page."""


@dataclass(frozen=True)
class ImageReading:
    """A raster's lines put together, as a plan sees them.

    Attributes
    ----------
    counts : (lines, num_x) counts, one row per line flown, in the order flown.
    x_um, y_um : recorded fine-stage position of every count, um (same shape).
    energy_eV : mono energy of the raster.
    exposure_s, photons : the shutter's exposure and the photons it let through, summed
        over the lines.
    """

    counts: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    energy_eV: float
    exposure_s: float
    photons: float


def fly_raster(
    beamline: Beamline, num_y: int, devices: Sequence = (), name: str = "primary"
) -> MsgGenerator[ImageReading | None]:
    """Fly every line of the raster the detector is configured for: one event per line in
    stream ``name``, emitted as event pages of about ``PAGE_COUNTING_S`` of counting each,
    with the shutter read beside each line and ``devices`` once per page; returns the lines
    as an ``ImageReading`` (None when the plan is simulated without devices).

    A raster cut short keeps, in the catalog, the lines it finished.
    """
    raster, shutter = beamline.raster, beamline.shutter
    pages = raster.pages(name, [shutter], devices)
    num_x = yield Msg("read", raster.num_x)
    dwell = yield Msg("read", raster.dwell)
    per_page = 1
    if num_x and dwell:  # None when simulated without devices
        line_s = num_x[raster.num_x.name]["value"] * dwell[raster.dwell.name]["value"] / 1e3
        per_page = max(1, int(PAGE_COUNTING_S / line_s))
    readings, context = [], {}
    for row in range(num_y):
        first, last = row % per_page == 0, row % per_page == per_page - 1 or row == num_y - 1
        if first:
            kicked = str(uuid.uuid4())
            yield Msg("kickoff", pages, group=kicked)
            yield Msg("wait", None, group=kicked)
        reading = yield from _fly_line(raster, row, (shutter,))
        if first:
            context = {}
            for device in devices:
                context |= (yield Msg("read", device)) or {}
        if raster.counts.name in reading:
            pages.add(reading | context)
            readings.append(reading)
        if last:
            yield Msg("collect", pages, return_payload=False)
    if not readings:
        return None

    def column(signal) -> list:
        return [r[signal.name]["value"] for r in readings]

    return ImageReading(
        np.stack(column(raster.counts)),
        np.stack(column(raster.x_positions)),
        np.stack(column(raster.y_positions)),
        float(readings[0][raster.energy.name]["value"]),
        float(sum(column(shutter.exposure))),
        float(sum(column(shutter.photons))),
    )


def _fly_line(raster, row: int, devices: Sequence) -> MsgGenerator[dict]:
    """Fly line ``row``; returns its reading with ``devices`` read beside it ({} when
    simulated without devices).

    Bare messages, and only the detector triggered: a raster has hundreds of lines, and
    each plan stub call costs a stack capture.
    """
    moved, triggered = str(uuid.uuid4()), str(uuid.uuid4())
    yield Msg("set", raster.row, row, group=moved)
    yield Msg("wait", None, group=moved)
    yield Msg("trigger", raster, group=triggered)
    yield Msg("wait", None, group=triggered)
    reading = {}
    for obj in (raster, *devices):
        reading |= (yield Msg("read", obj)) or {}
    return reading
