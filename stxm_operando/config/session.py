"""The session's configuration: where runs are kept, the tiled API key and loopback policy,
EPICS PV prefixes and the devices' names."""

import os
from dataclasses import dataclass, field, fields

from .types import KEYS_AND_TYPES, Text, require

DEFAULT_CATALOG = "stxm-data/catalog"
"""Where sessions, the demo, replay, export and the monitor keep and find runs unless told
otherwise (``$STXM_OPERANDO_CATALOG`` overrides it): a directory or a tiled URI."""


def default_catalog() -> str:
    """The catalog every command uses by default: ``$STXM_OPERANDO_CATALOG``, else
    ``DEFAULT_CATALOG``."""
    return os.environ.get("STXM_OPERANDO_CATALOG") or DEFAULT_CATALOG


API_KEY_ENV = "TILED_API_KEY"
"""The environment variable holding a tiled server's API key, unless a session's config
names another (``session.api_key_env``)."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts that only this machine reaches: every server binds one of them unless told
otherwise."""


def tiled_api_key(env: str = API_KEY_ENV) -> str | None:
    """The tiled API key from the environment variable ``env`` (None when unset or empty)."""
    return os.environ.get(env) or None


@dataclass(frozen=True)
class DevicePrefixes:
    """Full PV prefix of each device; empty means the beamline prefix plus the standard
    suffix (``STXM:Pstat:`` for the potentiostat, see the README's PV layout)."""

    __pydantic_config__ = KEYS_AND_TYPES

    scanner: Text = ""
    potentiostat: Text = ""
    raster: Text = ""
    point: Text = ""
    clock: Text = ""
    beam: Text = ""
    shutter: Text = ""

    def validate(self, where: str) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            require(" " not in value, f"{where}.{f.name}", "a PV prefix has no spaces")


@dataclass(frozen=True)
class EpicsConfig:
    """EPICS: the beamline PV prefix and optional per-device prefixes."""

    __pydantic_config__ = KEYS_AND_TYPES

    prefix: Text = "STXM:"
    devices: DevicePrefixes = field(default_factory=DevicePrefixes)

    def validate(self, where: str) -> None:
        require(bool(self.prefix), where, "prefix must not be empty")
        self.devices.validate(f"{where}.devices")


@dataclass(frozen=True)
class DeviceNames:
    """The names the devices get in an IPython session (and in their documents)."""

    __pydantic_config__ = KEYS_AND_TYPES

    scanner: Text = "scanner"
    potentiostat: Text = "potentiostat"
    raster: Text = "raster"
    point: Text = "point"
    clock: Text = "clock"
    beam: Text = "beam"
    shutter: Text = "shutter"

    def validate(self, where: str) -> None:
        names = [getattr(self, f.name) for f in fields(self)]
        for f, name in zip(fields(self), names, strict=True):
            require(
                name.isidentifier(), f"{where}.{f.name}", f"{name!r} is not a valid Python name"
            )
        require(len(set(names)) == len(names), where, f"device names must differ: {names}")


@dataclass(frozen=True)
class SessionConfig:
    """IPython session: backend ("sim" or "epics"), catalog (directory or tiled URI), the
    environment variable holding the tiled API key, an optional 0MQ proxy to publish to
    (host:port), and the device names."""

    __pydantic_config__ = KEYS_AND_TYPES

    backend: Text = "sim"
    catalog: Text = field(default_factory=default_catalog)
    api_key_env: Text = API_KEY_ENV
    publish: Text = ""
    names: DeviceNames = field(default_factory=DeviceNames)

    def validate(self, where: str) -> None:
        require(
            self.backend in ("sim", "epics"),
            f"{where}.backend",
            f"backend must be 'sim' or 'epics', got {self.backend!r}",
        )
        require(bool(self.catalog), f"{where}.catalog", "a catalog location is needed")
        if self.publish:
            host, _, port = self.publish.rpartition(":")
            require(
                bool(host) and port.isdigit() and 0 < int(port) < 65536,
                f"{where}.publish",
                f"expected host:port, got {self.publish!r}",
            )
        self.names.validate(f"{where}.names")
