"""Argument checks that run before a plan moves anything or lets any current flow."""

import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import fields

import numpy as np

from .. import limits
from ..devices import Beamline


class PlanArgumentError(ValueError):
    """A plan argument is invalid; nothing has moved."""


def eager_plan(function):
    """Mark ``function`` as a bluesky plan, as ``bluesky.utils.plan`` does, so that
    ``bluesky.utils.is_plan`` (and with it the queue server) lists it; unlike that decorator
    its wrapper is an ordinary function, so a bad call raises its ``PlanArgumentError``
    there and then, before any message. The wrapper checks that the first argument is a
    ``Beamline`` (a queue item naming something else is refused with its name)."""

    @functools.wraps(function)
    def checked(beamline, *args, **kwargs):
        require(
            isinstance(beamline, Beamline),
            f"{function.__name__}'s first argument must be the beamline (a Beamline), got "
            f"{beamline!r} ({type(beamline).__name__})",
        )
        return function(beamline, *args, **kwargs)

    checked._is_plan_ = True
    return checked


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
MAX_PERIOD_S = 3600.0
"""Longest recording or imaging period, s: a step is checked for its end (and for a cell
that tripped) at least this often."""
MAX_STEP_S = 7 * 24 * 3600.0
"""Longest step duration, s: a week, beyond a C/100 cycle; a typo (1e12 s) would hold the
beamline for ever."""


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
    """A period in s from ``MIN_PERIOD_S`` to ``MAX_PERIOD_S``."""
    check_positive(value, name, "s")
    require(
        MIN_PERIOD_S <= value <= MAX_PERIOD_S,
        f"{name} must be {MIN_PERIOD_S:g} to {MAX_PERIOD_S:g} s, got {value!r}",
    )
    return float(value)


def check_duration(value, name: str) -> float:
    """A step's duration in s: positive and at most ``MAX_STEP_S``."""
    check_positive(value, name, "s")
    require(value <= MAX_STEP_S, f"{name} must be at most {MAX_STEP_S:g} s, got {value!r}")
    return float(value)


def check_dwell(value, name: str = "dwell_ms") -> float:
    """A dwell in ms that the detector takes (``limits.check_dwell``)."""
    require(is_number(value), f"{name} must be a finite number of ms, got {value!r}")
    try:
        limits.check_dwell(value)
    except limits.LimitViolation as err:
        raise PlanArgumentError(f"{name}: {err}") from None
    return float(value)


def check_fraction(value, name: str) -> float:
    """A number from 0 to 1 (a Li fraction, a share of the capacity)."""
    require(is_number(value) and 0 <= value <= 1, f"{name} must be within [0, 1], got {value!r}")
    return float(value)


def check_flag(value, name: str) -> bool:
    """True or False, nothing that merely looks like one ("no" is true in Python)."""
    require(isinstance(value, bool | np.bool_), f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_numbers(values, name: str, unit: str) -> list[float]:
    """A sequence (not a string) of finite numbers of ``unit``, as floats."""
    ok = isinstance(values, Sequence | np.ndarray) and not isinstance(values, str | bytes)
    require(
        ok and all(is_number(v) for v in values),
        f"{name} must be a list of numbers of {unit}, got {values!r}",
    )
    return [float(v) for v in values]


def check_md(md) -> dict:
    """The caller's start-document metadata: None or a dict (mapping) with string keys."""
    require(
        md is None or (isinstance(md, Mapping) and all(isinstance(k, str) for k in md)),
        f"md must be a dict of metadata with string keys, got {md!r}",
    )
    return dict(md or {})


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
    """``limits.place_raster``, refused as a plan argument."""
    try:
        return limits.place_raster(
            beamline.config, center_x, center_y, num_x, num_y, step_nm, dwell_ms
        )
    except limits.LimitViolation as err:
        raise PlanArgumentError(str(err)) from None
