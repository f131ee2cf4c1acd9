"""Bluesky callbacks that turn documents into Li maps, rate maps and j_Ch via ``analysis``."""

from .operando import FrameRecord, OperandoAnalysis, SummaryRow

__all__ = ["FrameRecord", "OperandoAnalysis", "SummaryRow"]
