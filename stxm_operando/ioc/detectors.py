"""The detectors' records: a piezo line controller with its counter, and a scaler record.

``LineControllerPVs`` is laid out like the trajectory controllers STXMs fly lines on: the
line's ends, points and dwell as ``ao`` / ``longout`` records, ``Arm``, ``Go`` (like a
busy record: its put completes when the line is done), ``Status`` (``mbbi``) and
``Message``, and per-point waveforms of the counts and the encoders' positions.
``scaler_pvs`` builds the fields of a synApps scaler record (``.CNT``, ``.TP``, ``.S1``
... ``.S32``), which caproto has no record for, so ophyd's ``EpicsScaler`` drives it.
"""

import asyncio

from caproto import ChannelType
from caproto.server import PVGroup, pvproperty

from ..limits import (
    LINE_STATES,
    MAX_LINE_POINTS,
    SCALER_CHANNELS,
    LimitViolation,
    check_line,
)

MESSAGE_LENGTH = 256
SCALER_FREQUENCY_HZ = 1e7
"""The scaler's clock (channel 1), Hz."""


def _world(group: PVGroup):
    return group.parent.world


class LineControllerPVs(PVGroup):
    """One fly-scanned line per ``Go``: ``Arm`` first; a line it cannot do ends in
    ``Fault`` with the reason in ``Message`` (the put of ``Go`` still completes)."""

    start_x = pvproperty(value=0.0, name="StartX", record="ao", units="um", precision=4)
    start_y = pvproperty(value=0.0, name="StartY", record="ao", units="um", precision=4)
    stop_x = pvproperty(value=0.0, name="StopX", record="ao", units="um", precision=4)
    stop_y = pvproperty(value=0.0, name="StopY", record="ao", units="um", precision=4)
    num_points = pvproperty(value=1, name="NumPoints", record="longout")
    dwell = pvproperty(value=1.0, name="Dwell", record="ao", units="ms", precision=3)
    arm = pvproperty(value=0, name="Arm", record="longout")
    go = pvproperty(value=0, name="Go", record="longout")  # a busy record's put completion
    state = pvproperty(
        value=LINE_STATES[0],
        name="Status",
        dtype=ChannelType.ENUM,
        enum_strings=LINE_STATES,
        record="mbbi",
        read_only=True,
    )
    message = pvproperty(
        value="",
        name="Message",
        dtype=ChannelType.CHAR,
        max_length=MESSAGE_LENGTH,
        report_as_string=True,
        read_only=True,
    )
    counts = pvproperty(value=[0], name="Counts", max_length=MAX_LINE_POINTS, read_only=True)
    pos_x = pvproperty(value=[0.0], name="PosX", max_length=MAX_LINE_POINTS, read_only=True)
    pos_y = pvproperty(value=[0.0], name="PosY", max_length=MAX_LINE_POINTS, read_only=True)
    energy = pvproperty(value=0.0, name="Energy", units="eV", precision=3, read_only=True)
    start_time = pvproperty(value=0.0, name="StartTime", units="s", precision=3, read_only=True)
    end_time = pvproperty(value=0.0, name="EndTime", units="s", precision=3, read_only=True)
    i0 = pvproperty(value=0.0, name="I0", read_only=True)

    async def _fault(self, reason: str) -> int:
        await self.message.write(reason[: MESSAGE_LENGTH - 1], verify_value=False)
        await self.state.write("Fault", verify_value=False)
        return 0

    @arm.putter
    async def arm(self, instance, value):
        if value:
            await self.message.write("", verify_value=False)
            await self.state.write("Armed", verify_value=False)
        return 0

    @go.putter
    async def go(self, instance, value):
        if not value:
            return 0
        if self.state.value != "Armed":
            return await self._fault(f"Go while {self.state.value}: arm the line first")
        start = (self.start_x.value, self.start_y.value)
        stop = (self.stop_x.value, self.stop_y.value)
        points, dwell = self.num_points.value, self.dwell.value
        world = _world(self)
        try:
            check_line(world.config, start, stop, points, dwell)
        except LimitViolation as err:
            return await self._fault(str(err))
        await self.state.write("Flying", verify_value=False)
        line = await asyncio.get_running_loop().run_in_executor(
            None, world.acquire_line, start, stop, points, dwell
        )
        await self.counts.write(line.counts.tolist(), verify_value=False)
        await self.pos_x.write(line.x_um.tolist(), verify_value=False)
        await self.pos_y.write(line.y_um.tolist(), verify_value=False)
        for pv, reading in (
            (self.energy, line.energy_eV),
            (self.start_time, line.start_s),
            (self.end_time, line.end_s),
            (self.i0, line.i0_counts),
        ):
            await pv.write(reading, verify_value=False)
        await self.parent.publish_exposure()
        await self.state.write("Done", verify_value=False)
        return 0


def _scaler_fields() -> dict:
    """The scaler record's fields as pvproperties, named ``.FIELD`` after the record."""
    fields = {
        "count": pvproperty(value=0, name=".CNT"),
        "count_mode": pvproperty(
            value="OneShot",
            name=".CONT",
            dtype=ChannelType.ENUM,
            enum_strings=["OneShot", "AutoCount"],
        ),
        "delay": pvproperty(value=0.0, name=".DLY", units="s"),
        "auto_count_delay": pvproperty(value=0.0, name=".DLY1", units="s"),
        "elapsed": pvproperty(value=0.0, name=".T", units="s", read_only=True),
        "freq": pvproperty(value=SCALER_FREQUENCY_HZ, name=".FREQ", units="Hz"),
        "preset_time": pvproperty(value=1e-3, name=".TP", units="s", precision=6),
        "auto_count_time": pvproperty(value=1.0, name=".TP1", units="s"),
        "update_rate": pvproperty(value=10.0, name=".RATE"),
        "auto_count_update_rate": pvproperty(value=0.0, name=".RAT1"),
        "egu": pvproperty(value="s", name=".EGU", dtype=ChannelType.STRING),
    }
    names = {number: name for name, number in SCALER_CHANNELS.items()}
    for n in range(1, 33):
        fields[f"s{n}"] = pvproperty(value=0, name=f".S{n}", read_only=True)
        fields[f"nm{n}"] = pvproperty(
            value=names.get(n, ""), name=f".NM{n}", dtype=ChannelType.STRING
        )
        fields[f"pr{n}"] = pvproperty(value=0, name=f".PR{n}")
        fields[f"g{n}"] = pvproperty(value=0, name=f".G{n}")
    return fields


async def _count(group: PVGroup, instance, value):
    """``.CNT`` = 1 counts for the preset time; the put completes when counting is done."""
    if not value:
        return 0
    world = _world(group)
    dwell_s = group.preset_time.value
    if not dwell_s > 0:
        raise ValueError(f"the preset time .TP must be positive, got {dwell_s} s")
    counts = await asyncio.get_running_loop().run_in_executor(
        None, world.acquire_point, dwell_s * 1e3
    )
    clock, pmt = (getattr(group, f"s{n}") for n in SCALER_CHANNELS.values())
    await clock.write(round(dwell_s * group.freq.value), verify_value=False)
    await pmt.write(counts, verify_value=False)
    await group.elapsed.write(dwell_s, verify_value=False)
    await group.parent.publish_exposure()
    return 0


def scaler_pvs() -> type[PVGroup]:
    """A PVGroup class of one scaler record (prefix: the record's name)."""
    fields = _scaler_fields()
    fields["count"] = fields["count"].putter(_count)
    return type("ScalerPVs", (PVGroup,), {"__doc__": "A synApps scaler record."} | fields)
