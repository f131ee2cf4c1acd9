"""The potentiostat's own reading log as a bluesky flyer: kick it off when a run opens, then
every ``collect`` emits, as one event page, each reading the instrument logged since the
last one, exactly once, paused or not. Works on either backend (it only reads the
``Potentiostat`` interface's ``log_*`` signals).

>>> import bluesky.plan_stubs as bps
>>> from bluesky import RunEngine
>>> from stxm_operando.devices import simulated_beamline
>>> bl = simulated_beamline()
>>> log = PotentiostatLog(bl.potentiostat, name="ec")
>>> def plan():
...     yield from bps.open_run()
...     yield from bps.declare_stream(log, name="electrochemistry", collect=True)
...     yield from bps.kickoff(log, wait=True)
...     yield from bps.mv(bl.clock, 60.0)    # a minute of beamline time: the instrument logs
...     yield from bps.collect(log, name="electrochemistry")
...     yield from bps.close_run()
>>> pages = []
>>> RE = RunEngine({})
>>> _ = RE.subscribe(lambda name, doc: pages.append(doc), "event_page")
>>> _ = RE(plan())
>>> times = pages[0]["data"]["ec_time"]
>>> len(pages), 0 < times[0] < times[-1] <= 60.0, pages[0]["data"]["ec_index"][0]
(1, True, 1)
"""

import time

from ophyd import Component as Cpt
from ophyd import Device, Signal
from ophyd.status import StatusBase

from .potentiostat import Potentiostat
from .status import finished_status

LOG_FIELDS = {"time": "s", "voltage": "V", "current": "A", "charge": "C"}
"""Logged quantities and their units."""


class PotentiostatLog(Device):
    """Collects ``potentiostat``'s log as events ``{name}_index``, ``_time`` (s),
    ``_voltage`` (V), ``_current`` (A), ``_charge`` (C) and ``_step`` (the protocol step,
    set with ``bps.mv(log.step, n)``).

    Readings the instrument overwrote before they were collected (a pause longer than its
    log holds) cannot be recovered: after a ``collect``, ``gap`` says which were lost
    (empty when none were).
    """

    step = Cpt(Signal, value=0, kind="omitted")
    gap = Cpt(Signal, value="", kind="omitted")

    def __init__(self, potentiostat: Potentiostat, *, name: str, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.potentiostat = potentiostat
        self.next_index = 0
        self.last_current_A: float | None = None
        """The current of the newest reading collected, A (None before the first)."""

    def kickoff(self) -> StatusBase:
        """Start with the next reading the instrument logs."""
        self.next_index = int(self.potentiostat.log_count.get())
        return finished_status()

    def complete(self) -> StatusBase:
        """The log never ends by itself: complete at once."""
        return finished_status()

    def describe_collect(self) -> dict:
        source = self.potentiostat.name
        keys = {
            f"{self.name}_{field}": {
                "source": f"{source}.log_{field}",
                "dtype": "number",
                "shape": [],
                "units": unit,
            }
            for field, unit in LOG_FIELDS.items()
        }
        counters = {"index": f"{source}.log_count", "step": f"{self.name}.step"}
        for field, counter_source in counters.items():
            keys[f"{self.name}_{field}"] = {
                "source": counter_source,
                "dtype": "integer",
                "shape": [],
            }
        return keys

    def collect_pages(self):
        """One partial event page of every reading logged since the last collect."""
        log = self.potentiostat.read_log(since=self.next_index)
        count = log["index"].size
        first = int(log["index"][0]) if count else self.next_index
        self.gap.put(
            f"{first - self.next_index} readings ({self.next_index}-{first - 1}) were "
            "overwritten in the potentiostat's log before they were read"
            if first > self.next_index
            else ""
        )
        if not count:
            return
        self.next_index = int(log["index"][-1]) + 1
        self.last_current_A = float(log["current"][-1])
        data = {f"{self.name}_{field}": log[field].tolist() for field in LOG_FIELDS}
        data[f"{self.name}_index"] = log["index"].tolist()
        data[f"{self.name}_step"] = [int(self.step.get())] * count
        now = time.time()
        yield {
            "time": [now] * count,
            "data": data,
            "timestamps": {key: [now] * count for key in data},
        }
