"""Per-line overhead of the line fly scan, in simulation and over Channel Access, against
the line's own counting time (points x dwell).

Each case flies the lines of one raster with ``fly_raster`` in a RunEngine (one event per
line, the shutter read with it), and measures side by side:
  * the simulator flying the same lines with no RunEngine and no devices (what a line costs
    the simulated world to compute; the IOC does the same work per line);
  * bluesky's floor: ``count`` of ophyd.sim's ``det`` with one event per line.
Overhead per line = wall time per line - the simulator's own time per line; over Channel
Access the IOC, started here on 127.0.0.1 and stopped at the end, computes the same lines.

Run: ``python benchmarks/bench_line_scan.py``
"""

import os
import socket
import subprocess
import sys
import time

from stxm_operando.epics_env import use_local_channel_access


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


use_local_channel_access(free_port())  # before anything imports pyepics (libca reads it once)

import bluesky.plan_stubs as bps  # noqa: E402
import bluesky.plans as bp  # noqa: E402
from bluesky import RunEngine  # noqa: E402
from ophyd.sim import det  # noqa: E402

from stxm_operando.devices import epics_beamline, simulated_beamline  # noqa: E402
from stxm_operando.limits import raster_line  # noqa: E402
from stxm_operando.plans.lines import fly_raster  # noqa: E402

LINES = 40
CASES = [(64, 1.0), (256, 0.5), (1024, 0.1)]
"""Points per line and dwell per point, ms."""


def fly(beamline, num_x: int, dwell_ms: float) -> float:
    """Wall seconds per line of a ``LINES``-line raster flown through a RunEngine."""
    RE = RunEngine({}, context_managers=[])
    beamline.raster.configure_raster(0.0, 0.0, num_x, LINES, 10.0, dwell_ms)

    def plan():
        yield from bps.open_run()
        yield from fly_raster(beamline, LINES)
        yield from bps.close_run()

    RE(plan())  # warm up: descriptors, connections
    start = time.perf_counter()
    RE(plan())
    return (time.perf_counter() - start) / LINES


def simulator_alone(world, num_x: int, dwell_ms: float) -> float:
    """Wall seconds per line for the simulated world to fly the same lines."""
    start = time.perf_counter()
    for row in range(LINES):
        world.acquire_line(*raster_line(0.0, 0.0, num_x, LINES, 10.0, row), num_x, dwell_ms)
    return (time.perf_counter() - start) / LINES


def bluesky_floor() -> float:
    """Wall seconds per event of bluesky's ``count`` of ophyd.sim's ``det``."""
    RE = RunEngine({}, context_managers=[])
    RE(bp.count([det], num=LINES))
    start = time.perf_counter()
    RE(bp.count([det], num=LINES))
    return (time.perf_counter() - start) / LINES


def connect(prefix: str, ioc: subprocess.Popen):
    for _ in range(60):
        if ioc.poll() is not None:
            raise RuntimeError("the IOC exited")
        try:
            return epics_beamline(prefix=prefix, timeout=2.0)
        except TimeoutError:
            continue
    raise TimeoutError("the IOC did not answer")


def report(label: str, per_line: float, alone: float, num_x: int, dwell_ms: float) -> None:
    counting = num_x * dwell_ms / 1e3
    overhead = per_line - alone
    print(
        f"  {label:4s} {num_x:5d} pt x {dwell_ms:4.1f} ms ({counting * 1e3:6.1f} ms counting): "
        f"{per_line * 1e3:7.1f} ms/line, simulator {alone * 1e3:6.1f} ms, "
        f"overhead {overhead * 1e3:6.1f} ms = {overhead / counting:5.2f}x the counting time"
    )


def main() -> None:
    floor = bluesky_floor()
    print(f"line fly scans, {LINES} lines per raster")
    print(f"  bluesky floor: count of ophyd.sim det, {floor * 1e3:.2f} ms/event")
    sim = simulated_beamline()
    alone = {}
    for num_x, dwell_ms in CASES:
        alone[num_x] = simulator_alone(sim.world, num_x, dwell_ms)
        report("sim", fly(sim, num_x, dwell_ms), alone[num_x], num_x, dwell_ms)
    prefix = "LINEBENCH:"
    port = os.environ["EPICS_CA_SERVER_PORT"]
    ioc = subprocess.Popen(
        [sys.executable, "-m", "stxm_operando.cli", "ioc", "--port", port, "--prefix", prefix],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        epics = connect(prefix, ioc)
        for num_x, dwell_ms in CASES:
            report("CA", fly(epics, num_x, dwell_ms), alone[num_x], num_x, dwell_ms)
    finally:
        ioc.terminate()
        ioc.wait(10)


if __name__ == "__main__":
    main()
