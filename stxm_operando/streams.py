"""The stream contract: the streams the plans write and the data keys of their devices by
role, which every consumer (live analysis, image assembly, export, viewers) finds from the
run's own documents, never from a device's name.

A beamline may name its devices as it likes (``session.names``). The plans record, in every
start document, which device played which role (``device_roles``: role -> device name); a
device's data keys are ``{name}_{component}`` (ophyd's naming), so a consumer asks
``keys.key("raster", "counts")`` of the run's ``DataKeys``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

ELECTROCHEMISTRY_STREAM = "electrochemistry"
PROTOCOL_STREAM = "protocol"
DOSE_STREAM = "dose"
TRACKING_STREAM = "tracking"
PARTICLE_STREAM_PREFIX = "particle_"

DEVICE_ROLES_KEY = "device_roles"
DEVICE_ROLES = ("scanner", "potentiostat", "raster", "point", "clock", "beam", "shutter")
"""The roles devices play (a beamline's ``Beamline`` fields, ``session.names``'s keys)."""
DEFAULT_ROLES = {role: role for role in DEVICE_ROLES}
"""Role -> device name with the default names (and in runs from before ``device_roles``)."""


def particle_stream(particle_id: int) -> str:
    """The stream of one particle's images.

    Examples
    --------
    >>> particle_stream(3), particle_id_of("particle_3"), particle_id_of("electrochemistry")
    ('particle_3', 3, None)
    """
    return f"{PARTICLE_STREAM_PREFIX}{particle_id}"


def particle_id_of(stream: str) -> int | None:
    """The particle a stream holds the images of (None: not a particle's image stream)."""
    suffix = stream.removeprefix(PARTICLE_STREAM_PREFIX)
    return int(suffix) if suffix != stream and suffix.isdigit() else None


def device_roles(beamline) -> dict[str, str]:
    """Role -> device name of a beamline's devices, for the start document."""
    return {role: getattr(beamline, role).name for role in DEVICE_ROLES}


@dataclass(frozen=True)
class DataKeys:
    """A run's data keys by the role of the device that made them.

    Examples
    --------
    >>> keys = DataKeys.of_start({"device_roles": {"raster": "stxm_det"}})
    >>> keys.key("raster", "counts"), keys.key("potentiostat", "voltage")
    ('stxm_det_counts', 'potentiostat_voltage')
    """

    roles: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROLES))

    @classmethod
    def of_start(cls, start: Mapping) -> "DataKeys":
        """The keys a run's start document names (a run from before ``device_roles`` was
        recorded used the default names)."""
        return cls(DEFAULT_ROLES | dict(start.get(DEVICE_ROLES_KEY, {})))

    def key(self, role: str, component: str) -> str:
        """The data key of ``role``'s ``component`` (e.g. "raster", "image")."""
        return f"{self.roles[role]}_{component}"

    def prefix(self, role: str) -> str:
        """What the data keys of ``role``'s device begin with."""
        return f"{self.roles[role]}_"


class RunKeys:
    """Which run's ``DataKeys`` each descriptor's events use: call with every document."""

    def __init__(self) -> None:
        self._runs: dict[str, DataKeys] = {}
        self._descriptors: dict[str, DataKeys] = {}

    def __call__(self, name: str, doc: dict) -> None:
        if name == "start":
            self._runs[doc["uid"]] = DataKeys.of_start(doc)
        elif name == "descriptor":
            self._descriptors[doc["uid"]] = self._runs.get(doc["run_start"], DataKeys())

    def of_run(self, run_uid: str) -> DataKeys:
        return self._runs.get(run_uid, DataKeys())

    def of_event(self, event: dict) -> DataKeys:
        """The keys of an event's run (the default names if its start was never seen)."""
        return self._descriptors.get(event["descriptor"], DataKeys())


CHANNEL_ROW_FIELDS = (
    "particle_id", "direction", "c_rate", "frame_index", "time_s", "channel", "x_surf",
    "j_ch_mA_cm2", "j0_mA_cm2",
)  # fmt: skip
"""The fields of one [010] channel of one analysed frame (``FrameRecord.channel_rows``):
the columns of every per-channel table (the export's and the campaign's channels.csv)."""
