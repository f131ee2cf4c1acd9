"""Bluesky callbacks that turn documents into Li maps, rate maps and j_Ch via ``analysis``."""

from .frames import FrameRecord
from .lines import ImageAssembler, assembled
from .operando import OperandoAnalysis
from .publish import AnalysisPublisher
from .series import Progress
from .summary import SummaryRow, print_summary
from .transport import (
    ThreadedCallback,
    check_address,
    json_publisher,
    parse_message,
    run_proxy,
    serialize,
)

__all__ = [
    "AnalysisPublisher",
    "FrameRecord",
    "ImageAssembler",
    "OperandoAnalysis",
    "Progress",
    "SummaryRow",
    "ThreadedCallback",
    "assembled",
    "check_address",
    "json_publisher",
    "parse_message",
    "print_summary",
    "run_proxy",
    "serialize",
]
