"""Detectors: a line fly-scan detector for rasters and a counting point detector.

The raster detector flies one line of its configured raster per trigger, as STXM piezo
controllers do: it writes the line's start, stop, points and dwell to the controller, arms
it and says go, and reads back the counts with the position the encoders recorded at every
point. A line is the unit of acquisition: each trigger is one event (handed to the
RunEngine in event pages by ``RasterDetector.pages``), so an image cut short keeps the
lines it finished, and images are put together by recorded position downstream.
The point detector is a scaler record (ophyd's ``EpicsScaler`` over Channel Access).
"""

from collections.abc import Sequence

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus, EpicsSignal, EpicsSignalRO, Signal, get_cl
from ophyd.scaler import EpicsScaler
from ophyd.signal import DerivedSignal
from ophyd.status import StatusBase

from ..config import BeamlineConfig
from ..limits import SCALER_CHANNELS, LimitViolation, check_line, check_raster, raster_line
from .limits import as_device_limit
from .line_pages import LinePages
from .sim_signals import world_of
from .status import finished_status

RASTER_SETTINGS = ("center_x", "center_y", "num_x", "num_y", "step", "dwell")
ACQUIRE_MARGIN_S = 30.0
"""An EPICS acquisition fails if not done within twice its counting time plus this, s."""


class LineScanError(RuntimeError):
    """The line controller refused or failed a line (its message says why)."""


class SetAtOnce(Signal):
    """A soft signal whose ``set`` is done when it returns (ophyd's soft ``set`` starts a
    thread each time, about a millisecond: a raster sets its row once per line)."""

    def set(self, value, **kwargs) -> StatusBase:
        self.put(value)
        return finished_status()


class RasterDetector(Device):
    """Interface shared by both backends: a raster flown one line per trigger.

    Settings (config): center_x, center_y (um), num_x, num_y (pixels), step (nm), dwell (ms)
    of the raster; ``row`` (read with each line) is the line the next trigger flies, 0 at the
    smallest y. Readings per line: row, counts (num_x), x_positions, y_positions (um, per
    point, as recorded), energy (eV), start_time, end_time (s, beamline clock), i0 (counts
    per point, open beam).
    """

    center_x = Cpt(Signal, value=0.0, kind="config")
    center_y = Cpt(Signal, value=0.0, kind="config")
    num_x = Cpt(Signal, value=64, kind="config")
    num_y = Cpt(Signal, value=64, kind="config")
    step = Cpt(Signal, value=40.0, kind="config")
    dwell = Cpt(Signal, value=1.0, kind="config")
    row = Cpt(SetAtOnce, value=0)

    def __init__(self, prefix: str = "", *, config: BeamlineConfig, **kwargs) -> None:
        self.config = config
        self._pages: dict[str, LinePages] = {}
        super().__init__(prefix, **kwargs)

    def pages(self, stream: str, beside: Sequence, per_page: Sequence) -> LinePages:
        """The flyer that hands this detector's lines in ``stream`` to the RunEngine as event
        pages, with ``beside`` read beside each line and ``per_page`` once per page: the same
        object for every image of the stream (the RunEngine describes a flyer once per
        run), a new one when the devices change."""
        line_devices, page_devices = (self, *beside), tuple(per_page)
        kept = self._pages.get(stream)
        if kept is None or (kept.line_devices, kept.page_devices) != (line_devices, page_devices):
            kept = self._pages[stream] = LinePages(stream, line_devices, page_devices)
        return kept

    def check_raster(
        self, center_x: float, center_y: float, num_x: int, num_y: int, step: float, dwell: float
    ) -> None:
        """Raise DeviceLimitError (a LimitError and a ValueError) if this raster cannot be
        done. Units: um, nm, ms."""
        with as_device_limit():
            check_raster(self.config, center_x, center_y, num_x, num_y, step, dwell)

    def configure_raster(
        self, center_x: float, center_y: float, num_x: int, num_y: int, step: float, dwell: float
    ) -> tuple[dict, dict]:
        """Validate, then write all raster settings. Units: um, nm, ms."""
        self.check_raster(center_x, center_y, num_x, num_y, step, dwell)
        return self.configure(
            dict(
                zip(
                    RASTER_SETTINGS,
                    (center_x, center_y, int(num_x), int(num_y), step, dwell),
                    strict=True,
                )
            )
        )

    def settings(self) -> tuple:
        """Current raster settings in ``RASTER_SETTINGS`` order."""
        return tuple(getattr(self, name).get() for name in RASTER_SETTINGS)

    def line(self) -> tuple[tuple[float, float], tuple[float, float], int, float]:
        """Start and stop (x, y) um, points and dwell (ms) of the line ``row`` names;
        DeviceLimitError for a raster or row that cannot be done."""
        center_x, center_y, num_x, num_y, step, dwell = settings = self.settings()
        self.check_raster(*settings)
        row = self.row.get()
        with as_device_limit():
            if not (isinstance(row, int | np.integer) and 0 <= row < num_y):
                raise LimitViolation(f"row {row!r} is not a line of a {num_y}-line raster")
        start, stop = raster_line(center_x, center_y, num_x, num_y, step, int(row))
        return start, stop, int(num_x), float(dwell)

    def trigger(self) -> StatusBase:
        return self._fly(*self.line())


def as_reading(values: np.ndarray) -> list | np.ndarray:
    """A line's per-point values as the reading cheapest to validate: bluesky and the tiled
    writer validate every event against its schema, which takes a ``repr`` of every value.
    numpy's repr of a small array costs about a millisecond (a list's, microseconds), but an
    array over numpy's summary threshold is summarised in a few elements, where a list's repr
    spells out (and allocates) every point. So: a list up to the threshold, numpy beyond."""
    values = np.asarray(values)
    return values if values.size > np.get_printoptions()["threshold"] else values.tolist()


class SimRasterDetector(RasterDetector):
    """Raster detector of the simulated beamline; pass ``world=``."""

    counts = Cpt(Signal, value=[0] * 64)
    x_positions = Cpt(Signal, value=[0.0] * 64)
    y_positions = Cpt(Signal, value=[0.0] * 64)
    energy = Cpt(Signal, value=0.0)
    start_time = Cpt(Signal, value=0.0)
    end_time = Cpt(Signal, value=0.0)
    i0 = Cpt(Signal, value=0.0)

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, config=world.config, **kwargs)

    def _fly(self, start, stop, num_points: int, dwell_ms: float) -> StatusBase:
        result = world_of(self).acquire_line(start, stop, num_points, dwell_ms)
        for signal, value in (
            (self.counts, as_reading(result.counts)),
            (self.x_positions, as_reading(result.x_um)),
            (self.y_positions, as_reading(result.y_um)),
            (self.energy, result.energy_eV),
            (self.start_time, result.start_s),
            (self.end_time, result.end_s),
            (self.i0, result.i0_counts),
        ):
            signal.put(value)
        return finished_status()


class LineWaveform(EpicsSignalRO):
    """A per-point waveform of the line controller, cut to the line's points."""

    def get(self, **kwargs) -> list:
        return as_reading(np.asarray(super().get(**kwargs))[: int(self.parent.num_x.get())])

    def describe(self) -> dict:
        description = super().describe()
        description[self.name]["shape"] = [int(self.parent.num_x.get())]
        return description


class EpicsRasterDetector(RasterDetector):
    """Raster detector over Channel Access on a piezo line controller's records.

    Per line it writes ``{prefix}StartX``, ``StartY``, ``StopX``, ``StopY`` (um),
    ``NumPoints`` and ``Dwell`` (ms), puts ``Arm`` then ``Go`` (a busy record: its put
    completes when the line is done), and checks ``Status`` (``LINE_STATES``; on ``Fault``,
    ``Message`` says why). Counts come from the counter's per-point waveform ``Counts``
    with the encoders' ``PosX`` / ``PosY``; ``Energy``, ``StartTime``, ``EndTime`` and
    ``I0`` describe the line.
    """

    start_x = Cpt(EpicsSignal, "StartX", kind="omitted")
    start_y = Cpt(EpicsSignal, "StartY", kind="omitted")
    stop_x = Cpt(EpicsSignal, "StopX", kind="omitted")
    stop_y = Cpt(EpicsSignal, "StopY", kind="omitted")
    num_points = Cpt(EpicsSignal, "NumPoints", kind="omitted")
    line_dwell = Cpt(EpicsSignal, "Dwell", kind="omitted")
    arm = Cpt(EpicsSignal, "Arm", kind="omitted")
    go = Cpt(EpicsSignal, "Go", put_complete=True, kind="omitted")
    state = Cpt(EpicsSignalRO, "Status", string=True, kind="omitted")
    message = Cpt(EpicsSignalRO, "Message", string=True, kind="omitted")
    counts = Cpt(LineWaveform, "Counts")
    x_positions = Cpt(LineWaveform, "PosX")
    y_positions = Cpt(LineWaveform, "PosY")
    energy = Cpt(EpicsSignalRO, "Energy")
    start_time = Cpt(EpicsSignalRO, "StartTime")
    end_time = Cpt(EpicsSignalRO, "EndTime")
    i0 = Cpt(EpicsSignalRO, "I0")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._written: dict[str, float] = {}  # line settings last written, by attribute

    def _fly(self, start, stop, num_points: int, dwell_ms: float) -> DeviceStatus:
        with as_device_limit():
            check_line(self.config, start, stop, num_points, dwell_ms)
        if self.row.get() == 0:  # each image writes every setting once
            self._written.clear()
        for signal, value in (
            (self.start_x, start[0]),
            (self.start_y, start[1]),
            (self.stop_x, stop[0]),
            (self.stop_y, stop[1]),
            (self.num_points, num_points),
            (self.line_dwell, dwell_ms),
        ):
            if self._written.get(signal.attr_name) != value:  # the next line: y only
                signal.put(value, wait=True)
                self._written[signal.attr_name] = value
        self.arm.put(1, wait=True)
        timeout = ACQUIRE_MARGIN_S + 2 * num_points * dwell_ms / 1e3
        status = DeviceStatus(self, timeout=timeout)
        row = self.row.get()

        def check_outcome() -> None:
            try:
                state = self.state.get(use_monitor=False)
                if state != "Done":
                    message = self.message.get(use_monitor=False)
                    raise LineScanError(f"line {row} failed ({state}): {message}")
            except Exception as err:
                status.set_exception(err)
            else:
                status.set_finished()

        def finished(**_) -> None:  # no Channel Access calls inside its callback
            get_cl().thread_class(target=check_outcome, daemon=True).start()

        self.go.put(1, callback=finished)
        return status


class PointDetector(Device):
    """Counting detector (PMT) at the current stage position. Settings: dwell (ms).
    Readings: counts."""


class SimPointDetector(PointDetector):
    """Point detector of the simulated beamline; pass ``world=``."""

    dwell = Cpt(Signal, value=1.0, kind="config")
    counts = Cpt(Signal, value=0, kind="hinted")

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, **kwargs)

    def trigger(self) -> StatusBase:
        self.counts.put(world_of(self).acquire_point(self.dwell.get()))
        return finished_status()


class MillisecondsSignal(DerivedSignal):
    """A time in ms over a record field in s."""

    def forward(self, value: float) -> float:
        return value / 1e3

    def inverse(self, value: float) -> float:
        return value * 1e3


class EpicsPointDetector(PointDetector, EpicsScaler):
    """Point detector over Channel Access: a synApps scaler record (ophyd's
    ``EpicsScaler``, PVs ``{prefix}.CNT``, ``.TP``, ``.S1`` ...). ``dwell`` (ms) is its
    preset time and ``counts`` its PMT channel; the other channels are not read."""

    dwell = Cpt(MillisecondsSignal, derived_from="preset_time", kind="config")
    counts = Cpt(EpicsSignalRO, f".S{SCALER_CHANNELS['pmt']}", kind="hinted")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channels.kind = "omitted"
