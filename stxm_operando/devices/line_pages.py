"""A raster's lines handed to the RunEngine as event pages: a flyer over the line detector."""

from collections.abc import Iterator, Sequence

from ophyd.status import StatusBase

from .status import finished_status


class LinePages:
    """The lines of one stream, handed to the RunEngine as event pages through bluesky's
    flyer protocol (``kickoff``, ``collect``): each line is one event of the stream, but a
    page of them costs one document.

    The plan (``plans.lines.fly_raster``) flies and reads each line and ``add``s the
    readings of ``line_devices`` (the detector, the shutter) and of ``page_devices`` (read
    once per page, at its first line); ``collect`` hands over the lines added since the
    last collect. Each page is kicked off before its first line, so lines an abort or a
    failure cuts off are collected by the RunEngine's backstop before the run's stop
    document. Get one from ``RasterDetector.pages``.
    """

    def __init__(self, stream: str, line_devices: Sequence, page_devices: Sequence) -> None:
        self.name, self.parent = stream, None
        self.line_devices, self.page_devices = tuple(line_devices), tuple(page_devices)
        self._lines: list[dict] = []

    def kickoff(self) -> StatusBase:
        """Start a page. It starts empty: lines of a run that ended without collecting them
        (its collect failed) are not handed to the next."""
        self._lines.clear()
        return finished_status()

    def complete(self) -> StatusBase:
        return finished_status()

    def read_configuration(self) -> dict:
        """Every device's configuration (the raster's settings, the focus calibration...),
        recorded in the stream's descriptor under the stream's name."""
        return self._merged("read_configuration")

    def describe_configuration(self) -> dict:
        return self._merged("describe_configuration")

    def describe_collect(self) -> dict[str, dict]:
        return {self.name: self._merged("describe")}

    def _merged(self, method: str) -> dict:
        """What ``method`` of each device returns, merged (data keys are unique to a device)."""
        merged = {}
        for device in (*self.line_devices, *self.page_devices):
            merged |= getattr(device, method)()
        return merged

    def add(self, reading: dict) -> None:
        """Keep one line's reading ({data key: {"value", "timestamp"}}) for the next page."""
        self._lines.append(reading)

    def collect(self) -> Iterator[dict]:
        """The lines added since the last collect, one partial event each; the RunEngine
        emits them as one event page. (Events, not a ready page: bluesky validates each
        composed event against its schema, and a page's schema costs about twice as much
        per line.)"""
        lines, self._lines = self._lines, []
        for line in lines:
            yield {
                "data": {key: reading["value"] for key, reading in line.items()},
                "timestamps": {key: reading["timestamp"] for key, reading in line.items()},
            }
