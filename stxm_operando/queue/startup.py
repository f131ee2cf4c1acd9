"""bluesky-queueserver startup module: the beamline as ``bl``, every plan, the catalog.

``start-re-manager --startup-module stxm_operando.queue.startup`` (or ``stxm-operando
queue-server``) imports it. The beamline config comes from ``$STXM_OPERANDO_CONFIG`` (a
TOML file; the simulated beamline without it) and the catalog from
``$STXM_OPERANDO_CATALOG`` (else the config's ``session.catalog``). Plans take the beamline
by name (``"bl"``) and steps and ROIs as dicts, e.g. ``BPlan("two_energy_image", "bl",
{"particle_id": 0, "center_x_um": -0.9, "center_y_um": 0.2, "num_x": 34, "num_y": 22})``.
bluesky's standard plans (``count``, ``scan``, ``rel_scan``, ``list_scan``, ``grid_scan``,
``mv``, ``mvr``) take the devices under their configured names (``point``, ``scanner``, ...).
``cell_state`` is the one function queue clients may run (the control window's cell view).
"""

import os

from bluesky.plan_stubs import mv, mvr  # noqa: F401 (plans for the queue server)
from bluesky.plans import count, grid_scan, list_scan, rel_scan, scan  # noqa: F401
from bluesky.utils import is_plan

from stxm_operando import plans as _plans
from stxm_operando.config import BeamlineConfig, tiled_api_key
from stxm_operando.devices import epics_beamline, simulated_beamline
from stxm_operando.run_engine import make_run_engine
from stxm_operando.storage import open_catalog

globals().update(  # every plan of stxm_operando.plans, under its own name
    {name: getattr(_plans, name) for name in _plans.__all__ if is_plan(getattr(_plans, name))}
)
_config_path = os.environ.get("STXM_OPERANDO_CONFIG")
config = BeamlineConfig.from_toml(_config_path) if _config_path else BeamlineConfig()
bl = simulated_beamline(config) if config.session.backend == "sim" else epics_beamline(config)
globals().update(bl.devices())  # under their configured names, for bluesky's own plans
catalog = open_catalog(
    os.environ.get("STXM_OPERANDO_CATALOG") or config.session.catalog,
    api_key=tiled_api_key(config.session.api_key_env),
)
RE = make_run_engine(
    bl, catalog.writer(), catalog=catalog, progress=True, bars=False, returns_result=False
)


def cell_state() -> dict:
    """The cell as the potentiostat reports it, for queue clients (``function_execute``
    with ``run_in_background``, also while a plan runs): mode, output (1: driven), voltage
    (V), current (A), charge (C), why its last step ended, and the current compliance (A)."""
    pstat = bl.potentiostat
    return {
        "mode": str(pstat.mode.get()),
        "output": int(pstat.output.get()),
        "voltage_V": float(pstat.voltage.get()),
        "current_A": float(pstat.current.get()),
        "charge_C": float(pstat.charge.get()),
        "trip_reason": str(pstat.trip_reason.get()),
        "max_current_A": float(config.potentiostat.max_current_A),
    }
