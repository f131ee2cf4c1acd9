"""Plans run through bluesky-queueserver for real: Redis and the RE manager on 127.0.0.1,
plans submitted with bluesky-queueserver-api, the runs found in the catalog afterwards."""

import shutil
import subprocess
import sys
import time

import pytest
from bluesky_queueserver_api import BPlan
from bluesky_queueserver_api.zmq import REManagerAPI
from conftest import free_port

from stxm_operando.storage import Catalog

ROI = {"particle_id": 0, "center_x_um": -0.9, "center_y_um": 0.2, "num_x": 34, "num_y": 22}


@pytest.fixture
def redis():
    """A Redis server of the test's own on loopback (no persistence); yields host:port."""
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed (scripts/ensure-system-libs.sh test)"
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


def wait_for_manager(api: REManagerAPI, manager: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert manager.poll() is None, manager.stdout.read()[-3000:]
        try:
            api.status()
            return
        except Exception:  # not listening yet
            assert time.monotonic() < deadline, "the RE manager did not answer"
            time.sleep(0.5)


def test_plans_run_through_the_queue_server_into_the_catalog(redis, tmp_path):
    control, info = free_port(), free_port()
    manager = subprocess.Popen(
        [sys.executable, "-m", "stxm_operando.cli", "queue-server", "--redis", redis,
         "--control-port", str(control), "--info-port", str(info),
         "--catalog", str(tmp_path / "catalog")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    api = REManagerAPI(
        zmq_control_addr=f"tcp://127.0.0.1:{control}", zmq_info_addr=f"tcp://127.0.0.1:{info}"
    )
    try:
        wait_for_manager(api, manager)
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
