"""Electrochemistry: charge, state of charge, C-rate and overpotential (paper Fig. 1c)."""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..physics.constants import REFERENCE_OCV_V


def _series(time_s, values, name: str) -> tuple[np.ndarray, np.ndarray]:
    t, v = np.asarray(time_s, dtype=float), np.asarray(values, dtype=float)
    if t.ndim != 1 or t.shape != v.shape or t.size < 2:
        raise ValueError(
            f"time and {name} must be 1-D of one length >= 2, got {t.shape}, {v.shape}"
        )
    if np.any(np.diff(t) < 0):
        raise ValueError("time must not decrease")
    return t, v


def charge_passed_Ah(time_s, current_A) -> np.ndarray:
    """Cumulative charge (trapezoid integral of the current), Ah; positive = lithiation.

    Examples
    --------
    >>> charge_passed_Ah([0, 1800, 3600], [1e-6, 1e-6, 1e-6]) * 1e6
    array([0. , 0.5, 1. ])
    """
    t, i = _series(time_s, current_A, "current")
    steps = np.diff(t) * (i[1:] + i[:-1]) / 2
    return np.concatenate([[0.0], np.cumsum(steps)]) / 3600.0


def state_of_charge(time_s, current_A, capacity_Ah: float, x0: float = 0.0) -> np.ndarray:
    """Li fraction of the electrode from the current integral: x0 + Q / capacity.

    Examples
    --------
    >>> state_of_charge([0, 900], [4e-6, 4e-6], capacity_Ah=1e-6, x0=0.0)
    array([0., 1.])
    """
    if not capacity_Ah > 0:
        raise ValueError(f"capacity must be positive, got {capacity_Ah} Ah")
    return x0 + charge_passed_Ah(time_s, current_A) / capacity_Ah


def c_rate(current_A, capacity_Ah: float):
    """C-rate (1/h) of a current for an electrode capacity; positive = lithiation.

    Examples
    --------
    >>> c_rate(4e-6, 1e-6)
    4.0
    """
    if not capacity_Ah > 0:
        raise ValueError(f"capacity must be positive, got {capacity_Ah} Ah")
    return current_A / capacity_Ah


def overpotential(voltage_V, reference_V: float = REFERENCE_OCV_V):
    """Overpotential eta = V - V_ref, V (negative on lithiation).

    Examples
    --------
    >>> overpotential([3.35, 3.50]).round(3)
    array([-0.078,  0.072])
    """
    return np.asarray(voltage_V, dtype=float) - reference_V


@dataclass(frozen=True)
class GalvanostaticStep:
    """A recorded constant-current step: time (s), voltage (V), current (A) series."""

    time_s: np.ndarray
    voltage_V: np.ndarray
    current_A: np.ndarray
    capacity_Ah: float
    x0: float


@dataclass(frozen=True)
class OverpotentialRow:
    """Overpotential at a state of charge for one C-rate and direction."""

    c_rate: float
    direction: str
    eta_V: float


def overpotential_table(
    steps: Iterable[GalvanostaticStep], soc: float = 0.5, reference_V: float = REFERENCE_OCV_V
) -> list[OverpotentialRow]:
    """Overpotential at ``soc`` for each step, sorted by direction then |C-rate|.

    Steps that never reach ``soc`` are skipped.

    Examples
    --------
    >>> t = np.linspace(0, 900, 10)
    >>> step = GalvanostaticStep(t, 3.40 - 0 * t, np.full(10, 4e-6), 1e-6, 0.0)
    >>> row = overpotential_table([step])[0]
    >>> round(row.c_rate, 3), row.direction, round(row.eta_V, 3)
    (4.0, 'lithiation', -0.028)
    """
    rows = []
    for step in steps:
        x = state_of_charge(step.time_s, step.current_A, step.capacity_Ah, step.x0)
        _, v = _series(step.time_s, step.voltage_V, "voltage")
        rate = c_rate(float(np.mean(step.current_A)), step.capacity_Ah)
        if not (x.min() <= soc <= x.max()) or rate == 0:
            continue
        order = np.argsort(x)  # x is monotonic in time at constant current
        voltage = float(np.interp(soc, x[order], v[order]))
        direction = "lithiation" if rate > 0 else "delithiation"
        rows.append(OverpotentialRow(abs(rate), direction, voltage - reference_V))
    return sorted(rows, key=lambda row: (row.direction, row.c_rate))
