"""Argument checks that run before a plan moves anything or lets any current flow."""

import math
from collections.abc import Sequence

from ..devices import Beamline


class PlanArgumentError(ValueError):
    """A plan argument is invalid; nothing has moved."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise PlanArgumentError(message)


def check_positive(value, name: str, unit: str) -> float:
    require(
        isinstance(value, int | float) and math.isfinite(value) and value > 0,
        f"{name} must be a positive number of {unit}, got {value!r}",
    )
    return float(value)


def check_energies(
    beamline: Beamline, energies: Sequence[float], count: int | None = None
) -> tuple[float, ...]:
    """Energies (eV) inside the monochromator range, ``count`` of them if given."""
    try:
        values = tuple(float(e) for e in energies)
    except (TypeError, ValueError):
        raise PlanArgumentError(f"energies must be numbers in eV, got {energies!r}") from None
    require(len(values) > 0, "at least one energy is needed")
    require(
        count is None or len(values) == count,
        f"exactly {count} energies are needed, got {len(values)}",
    )
    low, high = beamline.config.mono.energy_limits_eV
    for energy in values:
        require(
            math.isfinite(energy) and low <= energy <= high,
            f"energy {energy} eV is outside the monochromator range [{low}, {high}] eV",
        )
    return values


def check_raster(
    beamline: Beamline,
    center_x: float,
    center_y: float,
    num_x: int,
    num_y: int,
    step_nm: float,
    dwell_ms: float,
) -> None:
    """The raster fits the fine stage and the detector (um, px, nm, ms)."""
    try:
        beamline.raster.check_raster(center_x, center_y, num_x, num_y, step_nm, dwell_ms)
    except ValueError as err:  # LimitError is a ValueError too
        raise PlanArgumentError(str(err)) from None
