"""bluesky-queueserver's own plan validation, on the startup module's namespace: every plan
of ``stxm_operando.plans`` is described (none is refused for its signature), and a plan
item as a client sends it (the beamline by name, steps and ROIs as dicts) validates, while
a mistyped one is refused before it reaches the queue."""

import pytest
from bluesky_queueserver.manager.profile_ops import (
    existing_plans_and_devices_from_nspace,
    load_worker_startup_code,
    validate_plan,
)

from stxm_operando import plans

ROI = {"particle_id": 0, "center_x_um": -0.9, "center_y_um": 0.2, "num_x": 12, "num_y": 8}
REGION = {"start_eV": 706.0, "stop_eV": 712.0, "step_eV": 1.0, "dwell_ms": 1.0}
ITEMS = {
    "operando": (["bl", [{"c_rate": 4.0, "until_V": 3.0}, {"duration_s": 120.0}], [ROI]], {}),
    "electrochemistry": (["bl", [{"kind": "Rest", "duration_s": 60.0}]], {}),
    "galvanostatic": (["bl"], {"c_rate": 1.0, "until_V": 3.0}),
    "rest": (["bl", 60.0], {}),
    "hold_potential": (["bl", 3.45], {"duration_s": 120.0}),
    "two_energy_image": (["bl", ROI], {"dwell_ms": 0.5}),
    "stack": (["bl", ROI, [705.0, 708.2, 710.2]], {}),
    "focus_scan": (["bl", ROI, [-2.0, 0.0, 2.0]], {}),
    "find_particles": (["bl"], {"num_x": 20, "num_y": 16}),
    "point_spectrum": (["bl", 0.0, 0.0, [REGION]], {}),
    "line_spectrum": (["bl", 0.0, 0.0, 10, [REGION]], {}),
}


@pytest.fixture(scope="module")
def allowed(tmp_path_factory):
    """The plans and devices the queue server would allow, from the startup module."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("STXM_OPERANDO_CATALOG", str(tmp_path_factory.mktemp("queue") / "cat"))
    try:
        nspace = load_worker_startup_code(startup_module_name="stxm_operando.queue.startup")
        existing_plans, existing_devices, *_ = existing_plans_and_devices_from_nspace(
            nspace=nspace, ignore_invalid_plans=False
        )
        yield existing_plans, existing_devices
        nspace["catalog"].close()
    finally:
        monkeypatch.undo()


def test_every_plan_is_described_and_every_public_plan_has_an_item_here(allowed):
    existing_plans, existing_devices = allowed
    ours = {name for name in plans.__all__ if name in existing_plans}
    assert ours == set(ITEMS)
    assert "bl" in existing_devices


@pytest.mark.parametrize("name", ITEMS)
def test_a_plan_item_as_a_client_sends_it_validates(name, allowed):
    existing_plans, existing_devices = allowed
    args, kwargs = ITEMS[name]
    item = {"name": name, "args": args, "kwargs": kwargs, "item_type": "plan"}
    success, message = validate_plan(
        item, allowed_plans=existing_plans, allowed_devices=existing_devices
    )
    assert success, message
    misspelt = item | {"kwargs": kwargs | {"dwel_ms": 1.0}}
    success, message = validate_plan(
        misspelt, allowed_plans=existing_plans, allowed_devices=existing_devices
    )
    assert not success and "dwel_ms" in message
