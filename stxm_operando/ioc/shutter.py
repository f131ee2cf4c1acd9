"""The shutter's PVs: its mode (auto / open / closed) and the exposure it let through."""

from caproto import ChannelType
from caproto.server import PVGroup, pvproperty

from ..limits import SHUTTER_MODES


class ShutterPVs(PVGroup):
    """``Mode`` (enum), ``Open_RBV``, ``Exposure`` (s, current or last opening), ``Photons``
    (that opening), ``TotalExposure`` (s)."""

    mode = pvproperty(
        value=SHUTTER_MODES[0], name="Mode", dtype=ChannelType.ENUM, enum_strings=SHUTTER_MODES
    )
    is_open = pvproperty(value=0, name="Open_RBV", read_only=True)
    exposure = pvproperty(value=0.0, name="Exposure", units="s", precision=4, read_only=True)
    photons = pvproperty(value=0.0, name="Photons", precision=1, read_only=True)
    total_exposure = pvproperty(
        value=0.0, name="TotalExposure", units="s", precision=3, read_only=True
    )

    @mode.putter
    async def mode(self, instance, value):
        world = self.parent.world
        world.shutter.set_mode(value, world.clock_s)
        await self.publish()
        return value

    async def publish(self) -> None:
        shutter = self.parent.world.shutter
        for pv, value in (
            (self.is_open, int(shutter.is_open)),
            (self.exposure, shutter.last_exposure_s),
            (self.photons, shutter.last_photons),
            (self.total_exposure, shutter.total_exposure_s),
        ):
            if pv.value != value:
                await pv.write(value, verify_value=False)
