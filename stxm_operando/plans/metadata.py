"""bluesky's standard start-document keys for every plan of this package."""

from collections.abc import Mapping, Sequence

import numpy as np

from ..streams import DEVICE_ROLES_KEY, device_roles
from .validation import check_md


def as_json(value):
    """``value`` with tuples as lists and numpy scalars and arrays as Python numbers and
    lists, so that it fits a start document (and a queue server can send it back)."""
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value


def standard_md(
    plan_name: str,
    beamline,
    plan_args: Mapping,
    detectors: Sequence,
    dimensions: Sequence[tuple[Sequence[str], str]],
    md: Mapping | None = None,
) -> dict:
    """Start-document metadata as bluesky's own plans write it, and the devices' roles.

    Parameters
    ----------
    plan_name : the plan's name.
    beamline : its devices' names by role go in as ``device_roles`` (``streams``).
    plan_args : the plan's arguments as the queue server would send them (devices by name,
        steps and ROIs as dicts), so that the run can be repeated from its start document.
    detectors : the detectors read (their names are recorded).
    dimensions : ``hints['dimensions']``: (data keys, stream) pairs, one per stream.
    md : the caller's metadata, which wins over everything above.
    """
    return {
        "plan_name": plan_name,
        "plan_args": as_json(plan_args),
        "detectors": [detector.name for detector in detectors],
        "hints": {"dimensions": [[list(keys), stream] for keys, stream in dimensions]},
        DEVICE_ROLES_KEY: device_roles(beamline),
    } | check_md(md)
