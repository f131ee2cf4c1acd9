"""Rasters flown line by line: one event per line, the image put together from them."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from bluesky.utils import Msg, MsgGenerator

from ..devices import Beamline


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
    """Fly every line of the raster the detector is configured for, one event per line in
    stream ``name`` with ``devices`` read beside it (the shutter always is); returns the
    lines as an ``ImageReading`` (None when the plan is simulated without devices).

    A raster cut short keeps, in the catalog, the lines it finished.
    """
    raster, shutter = beamline.raster, beamline.shutter
    readings = []
    for row in range(num_y):
        reading = yield from _fly_line(raster, row, [shutter, *devices], name)
        if raster.counts.name in reading:
            readings.append(reading)
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


def _fly_line(raster, row: int, devices: Sequence, name: str) -> MsgGenerator[dict]:
    """Fly line ``row`` and record it with ``devices`` read beside it as one event; returns
    the reading ({} when simulated without devices).

    ``trigger_and_read`` spelled out as bare messages, and only the detector triggered:
    a raster has hundreds of lines, and each plan stub call costs a stack capture.
    """
    moved, triggered = str(uuid.uuid4()), str(uuid.uuid4())
    yield Msg("set", raster.row, row, group=moved)
    yield Msg("wait", None, group=moved)  # ophyd sets even a soft signal on a thread
    yield Msg("trigger", raster, group=triggered)
    yield Msg("wait", None, group=triggered)
    yield Msg("create", None, name=name)
    reading = {}
    for obj in (raster, *devices):
        reading |= (yield Msg("read", obj)) or {}
    yield Msg("save")
    return reading
