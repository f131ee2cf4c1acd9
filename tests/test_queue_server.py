"""Plans run through bluesky-queueserver for real: Redis and the RE manager on 127.0.0.1,
plans submitted with bluesky-queueserver-api, the runs found in the catalog afterwards."""

from bluesky_queueserver_api import BPlan
from conftest import start_queue_manager

from stxm_operando.storage import Catalog

ROI = {"particle_id": 0, "center_x_um": -0.9, "center_y_um": 0.2, "num_x": 34, "num_y": 22}


def test_plans_run_through_the_queue_server_into_the_catalog(redis, tmp_path):
    manager, api = start_queue_manager(redis, tmp_path / "catalog")
    try:
        api.environment_open()
        api.wait_for_idle(timeout=180)
        assert api.status()["worker_environment_exists"]
        plans = api.plans_allowed()["plans_allowed"]
        assert {"two_energy_image", "operando", "stack", "galvanostatic"} <= set(plans)
        assert {"count", "scan", "mv"} <= set(plans)  # bluesky's own plans too
        devices = api.devices_allowed()["devices_allowed"]
        assert {"bl", "point", "scanner", "potentiostat"} <= set(devices)  # by name
        protocol = [{"c_rate": 4.0, "duration_s": 120.0}, {"kind": "Rest", "duration_s": 60.0}]
        for item in (
            BPlan("two_energy_image", "bl", ROI, dwell_ms=0.5, md={"sample": "queued"}),
            BPlan("operando", "bl", protocol, [ROI], every_s=60.0, dwell_ms=0.5,
                  sample="queued"),
            BPlan("count", ["point"], num=3, md={"sample": "queued"}),  # bluesky's own
            BPlan("operando", "bl", protocol, [ROI], energies=[708.2, 708.2]),  # refused
        ):  # fmt: skip
            assert api.item_add(item)["success"]
        api.queue_start()
        api.wait_for_idle(timeout=300)
        history = api.history_get()["items"]
        statuses = [h["result"]["exit_status"] for h in history]
        assert statuses == ["completed", "completed", "completed", "failed"]
        assert "distinct" in history[3]["result"]["msg"]
        operando_uid = history[1]["result"]["run_uids"][0]
        api.environment_close()
        api.wait_for_idle(timeout=60)
    finally:
        api.close()
        manager.terminate()
        manager.wait(timeout=60)
    with Catalog.embedded(tmp_path / "catalog", read_only=True) as catalog:
        assert len(catalog.search(sample="queued", plan_name="two_energy_image")) == 1
        (counted,) = catalog.search(sample="queued", plan_name="count")
        assert catalog.start(counted)["detectors"] == ["point"]
        start = catalog.start(operando_uid)
        assert start["plan_name"] == "operando" and start["sample"] == "queued"
        assert len(catalog.search(series_id=start["series_id"])) == 3  # + two image runs
