"""Detectors: a counting point detector and an image-returning raster detector.

The raster detector runs a whole raster of the fine stage per trigger and yields one image
(never one event per pixel) together with the recorded position of every pixel.
"""

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, EpicsSignal, EpicsSignalRO, Signal
from ophyd.status import Status

from ..config import BeamlineConfig
from ..limits import check_raster
from .limits import as_device_limit
from .sim_signals import world_of

RASTER_SETTINGS = ("center_x", "center_y", "num_x", "num_y", "step", "dwell")
ACQUIRE_MARGIN_S = 30.0
"""An EPICS acquisition fails if not done within twice its dwell time plus this, s."""


class RasterDetector(Device):
    """Interface shared by both backends.

    Settings (config): center_x, center_y (um), num_x, num_y (pixels), step (nm), dwell (ms).
    Readings: image (counts, num_y x num_x), x_positions, y_positions (um, per pixel),
    energy (eV), start_time, end_time (s, beamline clock), i0 (counts per pixel, open beam).
    """

    def __init__(self, prefix: str = "", *, config: BeamlineConfig, **kwargs) -> None:
        self.config = config
        super().__init__(prefix, **kwargs)

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

    def trigger(self) -> Status:
        self.check_raster(*(self.settings()))
        return self._acquire()

    def settings(self) -> tuple:
        """Current raster settings in ``RASTER_SETTINGS`` order."""
        return tuple(getattr(self, name).get() for name in RASTER_SETTINGS)


class PointDetector(Device):
    """Counting detector (PMT) at the current stage position. Settings: dwell (ms).
    Readings: counts."""


class SimRasterDetector(RasterDetector):
    """Raster detector of the simulated beamline; pass ``world=``."""

    center_x = Cpt(Signal, value=0.0, kind="config")
    center_y = Cpt(Signal, value=0.0, kind="config")
    num_x = Cpt(Signal, value=64, kind="config")
    num_y = Cpt(Signal, value=64, kind="config")
    step = Cpt(Signal, value=40.0, kind="config")
    dwell = Cpt(Signal, value=1.0, kind="config")
    acquire = Cpt(Signal, value=0, kind="omitted")
    image = Cpt(Signal, value=np.zeros((64, 64), dtype=np.int64))
    x_positions = Cpt(Signal, value=np.zeros((64, 64)))
    y_positions = Cpt(Signal, value=np.zeros((64, 64)))
    energy = Cpt(Signal, value=0.0)
    start_time = Cpt(Signal, value=0.0)
    end_time = Cpt(Signal, value=0.0)
    i0 = Cpt(Signal, value=0.0)

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, config=world.config, **kwargs)

    def _acquire(self) -> Status:
        self.acquire.put(1)
        result = world_of(self).acquire_raster(*self.settings())
        for signal, value in (
            (self.image, result.counts),
            (self.x_positions, result.x_um),
            (self.y_positions, result.y_um),
            (self.energy, result.energy_eV),
            (self.start_time, result.start_s),
            (self.end_time, result.end_s),
            (self.i0, result.i0_counts),
        ):
            signal.put(value)
        self.acquire.put(0)
        status = Status(obj=self)
        status.set_finished()
        return status


class SimPointDetector(PointDetector):
    """Point detector of the simulated beamline; pass ``world=``."""

    dwell = Cpt(Signal, value=1.0, kind="config")
    acquire = Cpt(Signal, value=0, kind="omitted")
    counts = Cpt(Signal, value=0, kind="hinted")

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, **kwargs)

    def trigger(self) -> Status:
        self.acquire.put(1)
        self.counts.put(world_of(self).acquire_point(self.dwell.get()))
        self.acquire.put(0)
        status = Status(obj=self)
        status.set_finished()
        return status


class RasterWaveform(EpicsSignalRO):
    """A flattened raster waveform, returned reshaped to (num_y, num_x)."""

    def _shape(self) -> tuple[int, int]:
        return int(self.parent.num_y.get()), int(self.parent.num_x.get())

    def get(self, **kwargs) -> np.ndarray:
        ny, nx = self._shape()
        return np.asarray(super().get(**kwargs))[: ny * nx].reshape(ny, nx)

    def describe(self) -> dict:
        description = super().describe()
        description[self.name]["shape"] = list(self._shape())
        return description


class EpicsRasterDetector(RasterDetector):
    """Raster detector over Channel Access, PVs ``{prefix}CenterX``, ..., ``{prefix}Image``."""

    center_x = Cpt(EpicsSignal, "CenterX", kind="config")
    center_y = Cpt(EpicsSignal, "CenterY", kind="config")
    num_x = Cpt(EpicsSignal, "NumX", kind="config")
    num_y = Cpt(EpicsSignal, "NumY", kind="config")
    step = Cpt(EpicsSignal, "Step", kind="config")
    dwell = Cpt(EpicsSignal, "Dwell", kind="config")
    acquire = Cpt(EpicsSignal, "Acquire", put_complete=True, kind="omitted")
    image = Cpt(RasterWaveform, "Image")
    x_positions = Cpt(RasterWaveform, "PosX")
    y_positions = Cpt(RasterWaveform, "PosY")
    energy = Cpt(EpicsSignalRO, "Energy")
    start_time = Cpt(EpicsSignalRO, "StartTime")
    end_time = Cpt(EpicsSignalRO, "EndTime")
    i0 = Cpt(EpicsSignalRO, "I0")

    def _acquire(self) -> Status:
        _, _, num_x, num_y, _, dwell = self.settings()
        return self.acquire.set(1, timeout=ACQUIRE_MARGIN_S + 2 * num_x * num_y * dwell / 1e3)


class EpicsPointDetector(PointDetector):
    """Point detector over Channel Access, PVs ``{prefix}Dwell``, ``{prefix}Acquire``,
    ``{prefix}Counts``."""

    dwell = Cpt(EpicsSignal, "Dwell", kind="config")
    acquire = Cpt(EpicsSignal, "Acquire", put_complete=True, kind="omitted")
    counts = Cpt(EpicsSignalRO, "Counts", kind="hinted")

    def trigger(self) -> Status:
        return self.acquire.set(1, timeout=ACQUIRE_MARGIN_S + 2 * self.dwell.get() / 1e3)
