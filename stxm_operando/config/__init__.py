"""Beamline configuration: dataclasses loaded from TOML and validated with clear errors.

Every section is optional in a file; missing keys take the defaults below (the simulated
beamline). pydantic checks keys and types (numbers are numbers, counts whole, no unknown
keys); each section's ``validate`` checks that its values make sense together. Either
failure raises ``ConfigError`` naming the key.
"""

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .instrument import (
    DetectorConfig,
    MonoConfig,
    ParticleConfig,
    PotentiostatConfig,
    SimConfig,
    StageConfig,
    ZonePlateConfig,
)
from .session import (
    API_KEY_ENV,
    DEFAULT_CATALOG,
    LOOPBACK_HOSTS,
    DeviceNames,
    DevicePrefixes,
    EpicsConfig,
    SessionConfig,
    default_catalog,
    tiled_api_key,
)
from .types import KEYS_AND_TYPES, ConfigError, Count, Number, Range, Text

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_CATALOG",
    "LOOPBACK_HOSTS",
    "BeamlineConfig",
    "ConfigError",
    "Count",
    "DetectorConfig",
    "DeviceNames",
    "DevicePrefixes",
    "EpicsConfig",
    "MonoConfig",
    "Number",
    "ParticleConfig",
    "PotentiostatConfig",
    "Range",
    "SessionConfig",
    "SimConfig",
    "StageConfig",
    "Text",
    "ZonePlateConfig",
    "default_catalog",
    "tiled_api_key",
]


@dataclass(frozen=True)
class BeamlineConfig:
    """The whole beamline configuration."""

    __pydantic_config__ = KEYS_AND_TYPES

    mono: MonoConfig = field(default_factory=MonoConfig)
    stage: StageConfig = field(default_factory=StageConfig)
    zone_plate: ZonePlateConfig = field(default_factory=ZonePlateConfig)
    potentiostat: PotentiostatConfig = field(default_factory=PotentiostatConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    epics: EpicsConfig = field(default_factory=EpicsConfig)
    session: SessionConfig = field(default_factory=SessionConfig)

    def validate(self) -> None:
        for f in fields(self):
            getattr(self, f.name).validate(f.name)
        try:
            self.zone_plate.check_a0(self.zone_plate.a0_um, self.mono.energy_limits_eV)
        except ValueError as err:
            raise ConfigError(f"zone_plate.a0_um: {err}") from None
        self.zone_plate.check_focus_travel(self.mono.energy_limits_eV, "zone_plate.z_travel_um")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BeamlineConfig":
        """Build and validate a config from nested dicts (e.g. parsed TOML)."""
        try:
            config = TypeAdapter(cls).validate_python(data)
        except ValidationError as err:
            raise _config_error(err) from None
        config.validate()
        return config

    @classmethod
    def from_toml(cls, path: str | Path) -> "BeamlineConfig":
        """Load and validate a TOML beamline config file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"beamline config {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as err:  # a directory, no permission, binary
            raise ConfigError(f"beamline config {path} cannot be read: {err}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path} is not valid TOML: {err}") from None
        return cls.from_dict(data)


ERROR_WORDING = {
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "int_type": "expected an integer",
    "string_type": "expected a string",
    "unexpected_keyword_argument": "unknown key",
    "dataclass_type": "expected a table",
    "dataclass_args_type": "expected a table",
    "tuple_type": "expected an array",
    "missing": "expected more values",
    "too_long": "expected fewer values",
}
"""Our words for pydantic's error types (its own message follows)."""


def _config_error(err: ValidationError) -> ConfigError:
    """The first of pydantic's complaints, as a ConfigError naming the key."""
    first = err.errors()[0]
    where = ".".join(["config", *(f"[{p}]" if isinstance(p, int) else p for p in first["loc"])])
    wording = ERROR_WORDING.get(first["type"], first["msg"])
    return ConfigError(
        f"{where.replace('.[', '[')}: {wording}, got {first['input']!r} ({first['msg']})"
    )
