"""The control window (``stxm-operando control``): regions drawn on the field, a protocol
editor and the queue, driving the beamline through bluesky-queueserver."""

from .protocol import ProtocolEditor
from .queue_link import QueueLink, QueueSnapshot
from .queue_view import QueueView
from .regions import RegionEditor
from .window import ControlWindow

__all__ = [
    "ControlWindow",
    "ProtocolEditor",
    "QueueLink",
    "QueueSnapshot",
    "QueueView",
    "RegionEditor",
]
