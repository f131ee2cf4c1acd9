"""A caproto IOC that serves the simulated beamline over Channel Access."""

from .server import StxmIOC, run_ioc

__all__ = ["StxmIOC", "run_ioc"]
