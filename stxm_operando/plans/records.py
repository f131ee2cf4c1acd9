"""Plan stubs that record the electrochemistry and the protocol milestones as event streams."""

import bluesky.plan_stubs as bps
from ophyd import Component as Cpt
from ophyd import Device, Signal
from ophyd.status import StatusBase

from ..devices import Beamline
from ..devices.potentiostat_log import PotentiostatLog
from ..devices.status import finished_status
from ..streams import ELECTROCHEMISTRY_STREAM, PROTOCOL_STREAM

SWITCH_OFF_TRIES = 5
"""Log intervals the clean-up waits at most for the instrument to log the switch-off (an
IOC's log runs on its own clock, a tick behind the switch-off)."""


class Record(Signal):
    """A recorded value: set is done once it is put, NaN included (a reading an instrument
    reported as NaN, or none yet), where a soft ``Signal`` would wait for NaN == NaN."""

    def set(self, value, **kwargs) -> StatusBase:
        self.put(value)
        return finished_status()


class ProtocolEvent(Device):
    """A protocol milestone: step index, what happened, why, and the cell state then."""

    step = Cpt(Record, value=0, kind="hinted")
    event = Cpt(Record, value="", kind="hinted")
    reason = Cpt(Record, value="", kind="hinted")
    time = Cpt(Record, value=0.0, kind="hinted")
    voltage = Cpt(Record, value=0.0, kind="hinted")
    charge = Cpt(Record, value=0.0, kind="hinted")


class ElectrochemistryRecorder:
    """Records the potentiostat's own log (each logged reading exactly once, as event pages
    of the ``electrochemistry`` stream) and protocol milestones (``protocol`` stream).

    Every method is a plan stub: all device I/O goes through the RunEngine.
    """

    def __init__(self, beamline: Beamline) -> None:
        self.beamline = beamline
        self.log = PotentiostatLog(beamline.potentiostat, name="ec")
        self.milestone = ProtocolEvent(name="protocol")
        self.started = False

    def start(self):
        """Inside an open run: declare the stream and start from the next logged reading."""
        yield from bps.declare_stream(self.log, name=ELECTROCHEMISTRY_STREAM, collect=True)
        yield from bps.kickoff(self.log, wait=True)
        self.started = True

    def collect_after_switch_off(self):
        """After the cell was switched off in a failed or aborted run: every reading not yet
        collected, up to the one that shows the switch-off (zero current), waiting a log
        interval of beamline time before each try, at most ``SWITCH_OFF_TRIES`` (nothing if
        the log was never started)."""
        if not self.started:
            return
        for _ in range(SWITCH_OFF_TRIES):
            yield from bps.mv(self.beamline.clock, self.beamline.config.potentiostat.log_interval_s)
            yield from self.collect()
            if self.log.last_current_A == 0.0:
                return

    def set_step(self, index: int):
        """Tag what follows with protocol step ``index``."""
        yield from bps.mv(self.log.step, index, self.milestone.step, index)

    def collect(self):
        """Emit every reading logged since the last call.

        Readings the instrument's log overwrote before they were read (a pause longer than
        the log holds) cannot be recovered; the gap is recorded as a ``log gap`` milestone.
        """
        yield from bps.collect(self.log, name=ELECTROCHEMISTRY_STREAM, return_payload=False)
        gap = yield from bps.rd(self.log.gap)
        if gap:
            yield from self.record("log gap", gap)

    def record(self, event: str, reason: str = ""):
        """Emit a protocol milestone with the beamline time (s), cell voltage (V) and
        charge (C) now."""
        pstat, milestone = self.beamline.potentiostat, self.milestone
        now = yield from bps.rd(self.beamline.clock.time)
        voltage = yield from bps.rd(pstat.voltage)
        charge = yield from bps.rd(pstat.charge)
        yield from bps.mv(
            milestone.event,
            event,
            milestone.reason,
            reason,
            milestone.time,
            float(now),
            milestone.voltage,
            float(voltage),
            milestone.charge,
            float(charge),
        )
        yield from bps.trigger_and_read([milestone], name=PROTOCOL_STREAM)
