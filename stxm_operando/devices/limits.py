"""The instrument's limits as ophyd sees them: a ``LimitViolation`` raised by a device is
also an ophyd ``LimitError``, the type EPICS motors raise, so both backends raise the same."""

from collections.abc import Iterator
from contextlib import contextmanager

from ophyd.utils import LimitError

from ..limits import LimitViolation


class DeviceLimitError(LimitError, LimitViolation):
    """A limit a device refused: both an ophyd ``LimitError`` and a ``LimitViolation``."""


@contextmanager
def as_device_limit() -> Iterator[None]:
    """Re-raise a ``LimitViolation`` from the shared checks as a ``DeviceLimitError``."""
    try:
        yield
    except LimitViolation as err:
        if isinstance(err, LimitError):
            raise
        raise DeviceLimitError(str(err)) from None
