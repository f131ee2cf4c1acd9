"""Soft devices whose readings become the electrochemistry and protocol event streams."""

import bluesky.plan_stubs as bps
from ophyd import Component as Cpt
from ophyd import Device, Signal

from ..devices import Clock, Potentiostat

ELECTROCHEMISTRY_STREAM = "electrochemistry"
PROTOCOL_STREAM = "protocol"


class ElectrochemistrySample(Device):
    """One logged potentiostat reading: log index, time (s), V, A, C, protocol step."""

    index = Cpt(Signal, value=0, kind="hinted")
    time = Cpt(Signal, value=0.0, kind="hinted")
    voltage = Cpt(Signal, value=0.0, kind="hinted")
    current = Cpt(Signal, value=0.0, kind="hinted")
    charge = Cpt(Signal, value=0.0, kind="hinted")
    step = Cpt(Signal, value=0, kind="hinted")


class ProtocolEvent(Device):
    """A protocol milestone: step index, what happened, why, and the cell state then."""

    step = Cpt(Signal, value=0, kind="hinted")
    event = Cpt(Signal, value="", kind="hinted")
    reason = Cpt(Signal, value="", kind="hinted")
    time = Cpt(Signal, value=0.0, kind="hinted")
    voltage = Cpt(Signal, value=0.0, kind="hinted")
    charge = Cpt(Signal, value=0.0, kind="hinted")


class ElectrochemistryRecorder:
    """Turns the potentiostat's own log into events, each logged reading exactly once."""

    def __init__(self, potentiostat: Potentiostat, clock: Clock) -> None:
        self.potentiostat, self.clock = potentiostat, clock
        self.sample = ElectrochemistrySample(name="ec")
        self.milestone = ProtocolEvent(name="protocol")
        self.next_index = int(potentiostat.log_count.get())
        self.step = 0

    def collect(self):
        """Emit every reading logged since the last call (plan stub).

        Readings the instrument's log overwrote before they were read (a pause longer than
        the log holds) cannot be recovered; the gap is recorded as a ``log gap`` milestone.
        """
        log = self.potentiostat.read_log(since=self.next_index)
        if log["index"].size and log["index"][0] > self.next_index:
            first = int(log["index"][0])
            yield from self.record(
                "log gap",
                f"{first - self.next_index} readings ({self.next_index}-{first - 1}) were "
                "overwritten in the potentiostat's log before they were read",
            )
        for k, index in enumerate(log["index"]):
            for name in ("time", "voltage", "current", "charge"):
                getattr(self.sample, name).put(float(log[name][k]))
            self.sample.index.put(int(index))
            self.sample.step.put(self.step)
            yield from bps.create(ELECTROCHEMISTRY_STREAM)
            yield from bps.read(self.sample)
            yield from bps.save()
            self.next_index = int(index) + 1

    def record(self, event: str, reason: str = ""):
        """Emit a protocol milestone (plan stub)."""
        pstat = self.potentiostat
        values = {
            "step": self.step,
            "event": event,
            "reason": reason,
            "time": float(self.clock.time.get()),
            "voltage": float(pstat.voltage.get()),
            "charge": float(pstat.charge.get()),
        }
        for name, value in values.items():
            getattr(self.milestone, name).put(value)
        yield from bps.create(PROTOCOL_STREAM)
        yield from bps.read(self.milestone)
        yield from bps.save()
