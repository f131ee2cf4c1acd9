"""Channel Access environment. libca reads it once, so set it before the first connection."""

import os

MAX_ARRAY_BYTES = str(64 * 1024 * 1024)


def use_local_channel_access(port: int | None = None) -> None:
    """Make Channel Access clients talk to an IOC on 127.0.0.1 (optionally on ``port``)."""
    os.environ["EPICS_CA_ADDR_LIST"] = "127.0.0.1"
    os.environ["EPICS_CA_AUTO_ADDR_LIST"] = "NO"
    os.environ["EPICS_CA_MAX_ARRAY_BYTES"] = MAX_ARRAY_BYTES
    if port is not None:
        os.environ["EPICS_CA_SERVER_PORT"] = str(port)
