"""The building blocks of every configuration section: strict field types, the pydantic
config that refuses unknown keys, and the checks that raise ``ConfigError`` naming the key."""

import math
from typing import Annotated

from pydantic import AllowInfNan, ConfigDict, Strict


class ConfigError(ValueError):
    """A beamline configuration is malformed; the message names the offending key."""


Number = Annotated[float, Strict(), AllowInfNan(False)]
"""A float field: a finite int or float in a file, never inf, nan, a string or a boolean."""
Count = Annotated[int, Strict()]
"""An int field: a whole number in a file, never 2.5 or a boolean."""
Text = Annotated[str, Strict()]
Range = tuple[Number, Number]
KEYS_AND_TYPES = ConfigDict(extra="forbid")
"""Every section's pydantic config: unknown keys are refused."""


def require(condition: bool, where: str, message: str) -> None:
    """ConfigError ``where: message`` unless ``condition``."""
    if not condition:
        raise ConfigError(f"{where}: {message}")


def check_range(value: Range, where: str) -> None:
    """A (low, high) range of finite limits with low < high (ConfigError otherwise)."""
    require(all(map(math.isfinite, value)), where, f"limits must be finite, got {value}")
    require(value[0] < value[1], where, f"lower limit must be below upper limit, got {value}")
