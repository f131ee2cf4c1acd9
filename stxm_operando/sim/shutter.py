"""The beamline's fast shutter: the only way the beam reaches the sample."""

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..limits import check_shutter_mode


class ShutterModel:
    """Shutter state and the exposure it lets through.

    ``last_exposure_s`` / ``last_photons`` count the current (or last) opening;
    ``total_*`` everything since the start; ``openings`` the recent (open, close) times on
    the beamline clock, s (close is None while open).
    """

    def __init__(self) -> None:
        self.mode = "auto"
        self.is_open = False
        self.last_exposure_s = self.last_photons = 0.0
        self.total_exposure_s = self.total_photons = 0.0
        self.openings: deque[list[float | None]] = deque(maxlen=100_000)

    def set_mode(self, mode: str, now_s: float) -> None:
        """Hold the shutter open or closed, or leave it to the detectors (``auto``)."""
        check_shutter_mode(mode)
        self.mode = mode
        if mode == "open":
            self._open(now_s)
        else:
            self._close(now_s)

    def expose(self, duration_s: float, photon_rate_hz: float) -> None:
        """``duration_s`` passes with the shutter open at ``photon_rate_hz``."""
        photons = photon_rate_hz * duration_s
        self.last_exposure_s += duration_s
        self.last_photons += photons
        self.total_exposure_s += duration_s
        self.total_photons += photons

    @contextmanager
    def exposure(self, now_s: Callable[[], float]) -> Iterator[None]:
        """An acquisition: in ``auto`` mode the shutter is open for it and only for it."""
        if self.mode != "auto":
            yield
            return
        self._open(now_s())
        try:
            yield
        finally:
            self._close(now_s())

    def _open(self, now_s: float) -> None:
        if not self.is_open:
            self.is_open = True
            self.last_exposure_s = self.last_photons = 0.0
            self.openings.append([now_s, None])

    def _close(self, now_s: float) -> None:
        if self.is_open:
            self.is_open = False
            self.openings[-1][1] = now_s
