"""caproto IOC serving a ``SimulatedBeamline`` with the PV layout the EPICS devices use.

Simulated time runs at ``speed`` times wall time (a tick every ``tick_s``), and actions that
take beamline time (moves, rasters, dwells) advance it as they do in-process. Cutoffs and
compliance are enforced by the simulated potentiostat inside the IOC.
"""

import asyncio
import logging
import os
import socket
import time

from caproto import AccessRights, ChannelType, Forbidden
from caproto.asyncio.server import run as run_asyncio_server
from caproto.server import PVGroup, SubGroup, pvproperty

from ..config import BeamlineConfig
from ..sim import SimulatedBeamline
from ..sim.potentiostat import Mode
from .detectors import LineControllerPVs, scaler_pvs
from .shutter import ShutterPVs

log = logging.getLogger(__name__)

TRIP_REASON_LENGTH = 256


def _world(group: PVGroup) -> SimulatedBeamline:
    return group.parent.world


class MotorAxis(PVGroup):
    """A motor record for one world axis, with limits, units and done-moving flags."""

    motor = pvproperty(value=0.0, name="", record="motor", precision=4)

    def __init__(self, *args, axis: str, **kwargs) -> None:
        self.axis = axis
        super().__init__(*args, **kwargs)

    @motor.startup
    async def motor(self, instance, async_lib) -> None:
        world = _world(self)
        low, high = world.limits(self.axis)
        units = "eV" if self.axis == "energy" else "um"
        fields = instance.field_inst
        await instance.write_metadata(lower_ctrl_limit=low, upper_ctrl_limit=high, units=units)
        await instance.write(world.positions[self.axis], verify_value=False)
        await fields.user_low_limit.write(low)
        await fields.user_high_limit.write(high)
        await fields.engineering_units.write(units)
        await fields.velocity.write(world.velocity(self.axis))
        await fields.user_readback_value.write(world.positions[self.axis])
        await fields.done_moving_to_value.write(1)
        await fields.motor_is_moving.write(0)

    @motor.putter
    async def motor(self, instance, value: float) -> float:
        world = _world(self)
        world.check_position(self.axis, value)
        fields = instance.field_inst
        await fields.done_moving_to_value.write(0)
        await fields.motor_is_moving.write(1)
        asyncio.get_running_loop().create_task(self._complete_move(value))
        return value

    async def _complete_move(self, value: float) -> None:
        world, fields = _world(self), self.motor.field_inst
        settle = world.config.mono.settle_time_s if self.axis == "energy" else 0.0
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, world.move, self.axis, value, settle
            )
            await asyncio.sleep(self.parent.motion_latency_s)
        finally:
            await fields.user_readback_value.write(world.positions[self.axis])
            await fields.motor_is_moving.write(0)
            await fields.done_moving_to_value.write(1)
            await self.parent.publish()

    async def publish(self) -> None:
        """Follow the world position (the raster moves the fine stage) when idle."""
        fields = self.motor.field_inst
        position = _world(self).positions[self.axis]
        if fields.done_moving_to_value.value and fields.user_readback_value.value != position:
            await fields.user_readback_value.write(position)


LOG_ARRAY = {"max_length": 65536, "read_only": True, "max_subscription_backlog": 100}
"""The potentiostat log's array PVs: 65536 readings; clients read the log with a get, so a
monitor that falls 100 updates behind may drop the oldest (caproto would otherwise warn that
1000 queued 65536-element updates take considerable memory, at every start).
"""


class PotentiostatPVs(PVGroup):
    """Potentiostat setpoints, readbacks and its own log."""

    mode = pvproperty(
        value=Mode.OCV.value,
        name="Mode",
        dtype=ChannelType.ENUM,
        enum_strings=[m.value for m in Mode],
    )
    output = pvproperty(value=0, name="Output")
    current_sp = pvproperty(value=0.0, name="CurrentSP", units="A", precision=9)
    voltage_sp = pvproperty(value=3.4, name="VoltageSP", units="V", precision=4)
    lower_cutoff = pvproperty(value=2.0, name="LowerCutoff", units="V", precision=4)
    upper_cutoff = pvproperty(value=4.5, name="UpperCutoff", units="V", precision=4)
    voltage = pvproperty(value=0.0, name="Voltage", units="V", precision=5, read_only=True)
    current = pvproperty(value=0.0, name="Current", units="A", precision=9, read_only=True)
    charge = pvproperty(value=0.0, name="Charge", units="C", precision=9, read_only=True)
    trip_reason = pvproperty(
        value="",
        name="TripReason",
        dtype=ChannelType.CHAR,
        max_length=TRIP_REASON_LENGTH,
        report_as_string=True,
        read_only=True,
    )
    step_duration = pvproperty(value=0.0, name="StepDuration", units="s", precision=3)
    step_capacity = pvproperty(value=0.0, name="StepCapacity", units="C", precision=9)
    heartbeat = pvproperty(value=0, name="Heartbeat")
    owner = pvproperty(value=0, name="Owner")
    """The heartbeat token of the session that switched the cell on (0: none given); only
    its heartbeats feed the watchdog, not those of every session connected."""
    capacity = pvproperty(value=0.0, name="Capacity", units="Ah", read_only=True)
    max_current = pvproperty(value=0.0, name="MaxCurrent", units="A", read_only=True)
    watchdog = pvproperty(value=0.0, name="Watchdog", units="s", read_only=True)
    log_count = pvproperty(value=0, name="LogCount", read_only=True)
    log_time = pvproperty(value=[0.0], name="LogTime", **LOG_ARRAY)
    log_voltage = pvproperty(value=[0.0], name="LogVoltage", **LOG_ARRAY)
    log_current = pvproperty(value=[0.0], name="LogCurrent", **LOG_ARRAY)
    log_charge = pvproperty(value=[0.0], name="LogCharge", **LOG_ARRAY)

    last_heard = 0.0  # time.monotonic() of the client's last word

    def heard_from_client(self) -> None:
        self.last_heard = time.monotonic()

    def check_watchdog(self) -> None:
        """Open the circuit when a driving cell's client has been silent too long."""
        world = _world(self)
        watchdog_s = world.config.potentiostat.watchdog_s
        with world.lock:
            pstat = world.potentiostat
            silent = time.monotonic() - self.last_heard
            if (
                watchdog_s
                and pstat.output_on
                and pstat.mode is not Mode.OCV
                and silent > watchdog_s
            ):
                pstat.trip(f"watchdog: no word from the client for {silent:.0f} s")

    @capacity.startup
    async def capacity(self, instance, async_lib) -> None:
        config = _world(self).config.potentiostat
        await instance.write(config.capacity_Ah, verify_value=False)
        await self.max_current.write(config.max_current_A, verify_value=False)
        await self.watchdog.write(config.watchdog_s, verify_value=False)
        limit = config.max_current_A
        await self.current_sp.write_metadata(lower_ctrl_limit=-limit, upper_ctrl_limit=limit)
        low, high = config.voltage_limits_V
        for pv in (self.voltage_sp, self.lower_cutoff, self.upper_cutoff):
            await pv.write_metadata(lower_ctrl_limit=low, upper_ctrl_limit=high)
        await self.publish()

    def _apply(self, setter, value):
        """Hear from the client, then apply a put through the simulated firmware."""
        self.heard_from_client()
        setter(_world(self).potentiostat, value)
        return value

    @mode.putter
    async def mode(self, instance, value):
        return self._apply(lambda p, v: p.set_mode(v), value)

    @output.putter
    async def output(self, instance, value):
        return int(self._apply(lambda p, v: p.set_output(v), bool(value)))

    @heartbeat.putter
    async def heartbeat(self, instance, value):
        if self.owner.value in (0, value):  # the driving session's beat (or no owner named)
            self.heard_from_client()
        return value

    @owner.putter
    async def owner(self, instance, value):
        return self._apply(lambda p, v: None, value)

    @step_duration.putter
    async def step_duration(self, instance, value):
        return self._apply(lambda p, v: p.set_step_duration(v), value)

    @step_capacity.putter
    async def step_capacity(self, instance, value):
        return self._apply(lambda p, v: p.set_step_capacity(v), value)

    @current_sp.putter
    async def current_sp(self, instance, value):
        return self._apply(lambda p, v: p.set_current(v), value)

    @voltage_sp.putter
    async def voltage_sp(self, instance, value):
        return self._apply(lambda p, v: p.set_voltage(v), value)

    @lower_cutoff.putter
    async def lower_cutoff(self, instance, value):
        return self._apply(lambda p, v: p.set_lower_cutoff(v), value)

    @upper_cutoff.putter
    async def upper_cutoff(self, instance, value):
        return self._apply(lambda p, v: p.set_upper_cutoff(v), value)

    async def publish(self) -> None:
        """Copy the simulated potentiostat's state to the PVs (readbacks and trips)."""
        world = _world(self)
        with world.lock:
            pstat = world.potentiostat
            state = {
                self.mode: pstat.mode.value,
                self.output: int(pstat.output_on),
                self.current_sp: pstat.current_setpoint_A,
                self.voltage_sp: pstat.voltage_setpoint_V,
                self.lower_cutoff: pstat.lower_cutoff_V,
                self.upper_cutoff: pstat.upper_cutoff_V,
                self.step_duration: pstat.step_duration_s,
                self.step_capacity: pstat.step_capacity_C,
                self.voltage: pstat.voltage_V,
                self.current: pstat.current_A,
                self.charge: pstat.charge_C,
                self.trip_reason: pstat.trip_reason[: TRIP_REASON_LENGTH - 1],
            }
            count = pstat.log_count
            log = pstat.log_array() if count != self.log_count.value else None
        for pv, value in state.items():
            if pv.value != value:
                await pv.write(value, verify_value=False)
        if log is not None:
            for pv, column in zip(
                (self.log_time, self.log_voltage, self.log_current, self.log_charge),
                log.T,
                strict=True,
            ):
                await pv.write(column.tolist(), verify_value=False)
            await self.log_count.write(count, verify_value=False)


class ClockPVs(PVGroup):
    """Beamline clock; its startup hook runs the world at ``speed`` x wall time."""

    time = pvproperty(value=0.0, name="Time", units="s", precision=3, read_only=True)

    @time.startup
    async def time(self, instance, async_lib) -> None:
        ioc = self.parent
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(ioc.tick_s)
            await loop.run_in_executor(None, ioc.world.advance, ioc.tick_s * ioc.speed)
            ioc.potentiostat.check_watchdog()
            await ioc.publish()


class BeamPVs(PVGroup):
    """Storage-ring current."""

    current = pvproperty(value=0.0, name="Current", units="mA", precision=2, read_only=True)

    async def publish(self) -> None:
        current = _world(self).beam_current_mA
        if self.current.value != current:
            await self.current.write(current, verify_value=False)


class StxmIOC(PVGroup):
    """The simulated STXM beamline over Channel Access (see README, PV layout).

    Parameters
    ----------
    world : the simulated beamline to serve.
    speed : simulated seconds per wall second for the free-running clock.
    tick_s : wall seconds between clock ticks.
    """

    energy = SubGroup(MotorAxis, prefix="Energy", axis="energy")
    zp_z = SubGroup(MotorAxis, prefix="ZpZ", axis="zp_z")
    osa_z = SubGroup(MotorAxis, prefix="OsaZ", axis="osa_z")
    osa_x = SubGroup(MotorAxis, prefix="OsaX", axis="osa_x")
    osa_y = SubGroup(MotorAxis, prefix="OsaY", axis="osa_y")
    fine_x = SubGroup(MotorAxis, prefix="FineX", axis="fine_x")
    fine_y = SubGroup(MotorAxis, prefix="FineY", axis="fine_y")
    coarse_x = SubGroup(MotorAxis, prefix="CoarseX", axis="coarse_x")
    coarse_y = SubGroup(MotorAxis, prefix="CoarseY", axis="coarse_y")
    potentiostat = SubGroup(PotentiostatPVs, prefix="Pstat:")
    raster = SubGroup(LineControllerPVs, prefix="Line:")
    point = SubGroup(scaler_pvs(), prefix="Scaler1")
    clock = SubGroup(ClockPVs, prefix="Clock:")
    beam = SubGroup(BeamPVs, prefix="Beam:")
    shutter = SubGroup(ShutterPVs, prefix="Shutter:")

    motion_latency_s = 0.02

    def __init__(
        self, *args, world: SimulatedBeamline, speed: float = 10.0, tick_s: float = 0.05, **kwargs
    ) -> None:
        if not (speed > 0 and tick_s > 0):
            raise ValueError(f"speed ({speed}) and tick_s ({tick_s}) must be positive")
        self.world, self.speed, self.tick_s = world, speed, tick_s
        super().__init__(*args, **kwargs)
        self._restrict_potentiostat_writes(world.config.potentiostat.write_hosts)

    def _restrict_potentiostat_writes(self, hosts: tuple[str, ...]) -> None:
        """Channel Access access security: only ``hosts`` may write the potentiostat.

        A CA client states its own host name, which anyone can fake; so a write must also
        come from an address that one of ``hosts`` resolves to (the peer address the
        server sees, which the client cannot choose), or it is refused."""
        if not hosts:
            return
        allowed = set(hosts)
        addresses = allowed_addresses(hosts)
        for pv in self.potentiostat.attr_pvdb.values():
            default_access, default_write = pv.check_access, pv.auth_write

            def check_access(host, user, default=default_access):
                rights = default(host, user)
                return rights if host in allowed else rights & ~AccessRights.WRITE

            async def auth_write(host, user, *args, default=default_write, **kwargs):
                peer = (kwargs.get("user_address") or ("",))[0]
                if peer not in addresses:
                    raise Forbidden(f"writes from {peer or 'an unknown address'} are refused")
                return await default(host, user, *args, **kwargs)

            pv.check_access, pv.auth_write = check_access, auth_write

    async def publish_exposure(self) -> None:
        """Push the clock and the shutter's record of an acquisition just done to the PVs
        (the rest follows at the next clock tick)."""
        await self.clock.time.write(self.world.clock_s, verify_value=False)
        await self.shutter.publish()

    async def publish(self) -> None:
        """Push the world's state (clock, potentiostat, motor readbacks) to the PVs."""
        await self.clock.time.write(self.world.clock_s, verify_value=False)
        await self.potentiostat.publish()
        await self.beam.publish()
        await self.shutter.publish()
        for axis in (
            self.energy,
            self.zp_z,
            self.osa_z,
            self.osa_x,
            self.osa_y,
            self.fine_x,
            self.fine_y,
            self.coarse_x,
            self.coarse_y,
        ):
            await axis.publish()


class _DropBeaconErrors(logging.Filter):
    """No CA repeater listens on loopback in tests; failed beacons are harmless there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to send beacon" not in record.getMessage()


def allowed_addresses(hosts: tuple[str, ...]) -> set[str]:
    """The IP addresses ``hosts`` (names or addresses) resolve to; a name that does not
    resolve allows none."""
    addresses = set()
    for host in hosts:
        try:
            addresses |= {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            log.warning("write_hosts: %s does not resolve; no writes from it", host)
    return addresses


def run_ioc(
    config: BeamlineConfig | None = None,
    *,
    prefix: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    speed: float = 10.0,
) -> None:
    """Serve a new simulated beamline until interrupted. Binds ``host`` only."""
    config = config or BeamlineConfig()
    if port is not None:
        os.environ["EPICS_CA_SERVER_PORT"] = str(port)
    os.environ["EPICS_CAS_INTF_ADDR_LIST"] = host
    os.environ.setdefault("EPICS_CAS_BEACON_ADDR_LIST", host)
    os.environ.setdefault("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO")
    logging.getLogger("caproto.ctx").addFilter(_DropBeaconErrors())
    ioc = StxmIOC(
        prefix=config.epics.prefix if prefix is None else prefix,
        world=SimulatedBeamline(config),
        speed=speed,
    )
    log.info(
        "serving %d PVs on %s:%s", len(ioc.pvdb), host, os.environ.get("EPICS_CA_SERVER_PORT", 5064)
    )
    run_asyncio_server(ioc.pvdb, interfaces=[host])
