"""Argument checks that run before a plan moves anything or lets any current flow."""

import math
import numbers
from collections.abc import Sequence
from dataclasses import fields

import numpy as np

from .. import limits
from ..devices import Beamline


class PlanArgumentError(ValueError):
    """A plan argument is invalid; nothing has moved."""


def eager_plan(function):
    """Mark ``function`` as a bluesky plan, as ``bluesky.utils.plan`` does, so that
    ``bluesky.utils.is_plan`` (and with it the queue server) lists it; unlike that decorator
    it does not wrap the function, so a bad call raises its ``PlanArgumentError`` there and
    then, before any message."""
    function._is_plan_ = True
    return function


def as_dataclass(cls: type, value):
    """``value`` if it is a ``cls``, else a ``cls`` made from a dict of its fields (as a
    queue server sends it); PlanArgumentError naming the fields otherwise."""
    if isinstance(value, cls):
        return value
    try:
        return cls(**value)
    except TypeError:
        names = ", ".join(f.name for f in fields(cls))
        raise PlanArgumentError(
            f"expected a {cls.__name__} or a dict of {names}; got {value!r}"
        ) from None


def require(condition: bool, message: str) -> None:
    if not condition:
        raise PlanArgumentError(message)


MIN_PERIOD_S = 1.0
"""Shortest recording or imaging period, s: the potentiostat logs once a second, and a
shorter period would only flood the catalog with empty events."""


def is_number(value) -> bool:
    """A finite real number (numpy's included); bools are not numbers here."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(value)
    )


def is_count(value) -> bool:
    """A whole number (numpy's included); bools are not counts."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_positive(value, name: str, unit: str) -> float:
    require(
        is_number(value) and value > 0,
        f"{name} must be a positive number of {unit}, got {value!r}",
    )
    return float(value)


def check_period(value, name: str) -> float:
    """A period in s of at least ``MIN_PERIOD_S``."""
    check_positive(value, name, "s")
    require(value >= MIN_PERIOD_S, f"{name} must be at least {MIN_PERIOD_S:g} s, got {value!r}")
    return float(value)


def check_count(value, name: str) -> int:
    """A whole number >= 1 (bools are not counts)."""
    require(is_count(value) and value >= 1, f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def check_energies(
    beamline: Beamline, energies: Sequence[float], count: int | None = None
) -> tuple[float, ...]:
    """Energies (eV) inside the monochromator range, ``count`` of them if given."""
    try:
        given = tuple(energies)
    except TypeError:
        given = None
    require(
        given is not None and all(is_number(e) for e in given),
        f"energies must be numbers in eV, got {energies!r}",
    )
    values = tuple(float(e) for e in given)
    require(len(values) > 0, "at least one energy is needed")
    require(
        count is None or len(values) == count,
        f"exactly {count} energies are needed, got {len(values)}",
    )
    require(len(set(values)) == len(values), f"energies must be distinct, got {list(values)} eV")
    for energy in values:
        try:
            limits.check_energy(beamline.config, energy)
        except limits.LimitViolation as err:
            raise PlanArgumentError(str(err)) from None
    return values


def check_raster(
    beamline: Beamline,
    center_x: float,
    center_y: float,
    num_x: int,
    num_y: int,
    step_nm: float,
    dwell_ms: float,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """A raster centred anywhere the coarse and fine stages reach (um, px, nm, ms) that the
    detector can do; returns (coarse position, fine centre), um (``limits.stage_placement``)."""
    try:
        limits.check_raster(beamline.config, 0.0, 0.0, num_x, num_y, step_nm, dwell_ms)
        return limits.stage_placement(beamline.config, center_x, center_y, num_x, num_y, step_nm)
    except limits.LimitViolation as err:
        raise PlanArgumentError(str(err)) from None
