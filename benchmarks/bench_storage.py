"""RunEngine + storage overhead per two-energy frame pair, and replay time per frame pair.

Measured side by side in one run, into one embedded catalog:
  * baseline: bluesky ``count`` of an ophyd.sim image detector of the same size (2 events
    per pair), RunEngine + catalog;
  * baseline at line granularity: ``count`` of an ophyd.sim line detector, one event per
    line of the pair (2 x 30), RunEngine + catalog: the floor of anything that takes a
    raster line by line through the RunEngine;
  * ours: the frame pair as the operando protocol takes it (mono + zone plate move, raster,
    potentiostat, clock per image), RunEngine + catalog, and the same without storage;
  * replay: reading the stored run back through the analysis callback.

Run: ``python benchmarks/bench_storage.py``
"""

import tempfile
import time

import bluesky.plan_stubs as bps
import bluesky.plans as bp
import numpy as np
from bluesky import RunEngine
from ophyd.sim import SynSignal

from stxm_operando.devices import simulated_beamline
from stxm_operando.live_callbacks import OperandoAnalysis
from stxm_operando.plans import ParticleROI
from stxm_operando.plans.dose import DoseTally
from stxm_operando.plans.imaging import frame_counter, image_particles
from stxm_operando.storage import Catalog
from stxm_operando.storage.replay import replay

PAIRS = 20
ROI = ParticleROI(0, -0.9, 0.2, 40, 30)


def frame_pairs(beamline, md):
    frame, dose = frame_counter(), DoseTally(beamline, [ROI], 40.0)
    yield from bps.open_run(md=md)
    for index in range(PAIRS):
        yield from bps.mv(frame, index)
        yield from image_particles(beamline, [ROI], (708.2, 710.2), 40.0, 1.0, frame, dose)
    yield from bps.close_run()


def timed(RE, plan) -> tuple[float, tuple]:
    start = time.perf_counter()
    uids = RE(plan)
    return time.perf_counter() - start, uids


def main() -> None:
    rng = np.random.default_rng(0)
    image = SynSignal(func=lambda: rng.poisson(1e4, (ROI.num_y, ROI.num_x)), name="img")
    line = SynSignal(func=lambda: rng.poisson(1e4, ROI.num_x), name="line")
    md = {
        "plan_name": "operando_images",
        "energies": [708.2, 710.2],
        "pixel_size_nm": 40.0,
        "direction": "lithiation",
        "particle_ids": [0],
    }
    with tempfile.TemporaryDirectory() as tmp, Catalog.embedded(tmp) as catalog:
        stored = RunEngine({})
        writer = catalog.writer()
        stored.subscribe(writer)
        bare = RunEngine({})
        timed(stored, bp.count([image], num=2))  # warm up the catalog
        writer.flush()
        baseline, _ = timed(stored, bp.count([image], num=2 * PAIRS))
        start = time.perf_counter()
        writer.flush()
        baseline_drain = time.perf_counter() - start
        by_line, _ = timed(stored, bp.count([line], num=2 * ROI.num_y * PAIRS))
        start = time.perf_counter()
        writer.flush()
        by_line += time.perf_counter() - start
        ours_stored, (uid,) = timed(stored, frame_pairs(simulated_beamline(), md))
        start = time.perf_counter()
        writer.flush()
        drain = time.perf_counter() - start
        ours_bare, _ = timed(bare, frame_pairs(simulated_beamline(), md))
        world = simulated_beamline().world
        start = time.perf_counter()
        for _ in range(2 * PAIRS):
            world.acquire_raster(ROI.center_x_um, ROI.center_y_um, ROI.num_x, ROI.num_y, 40.0, 1.0)
        simulation = time.perf_counter() - start
        analysis = OperandoAnalysis()
        start = time.perf_counter()
        replay(catalog, uid, analysis)
        replay_time = time.perf_counter() - start
        start = time.perf_counter()
        documents = sum(1 for _ in catalog.documents(uid))
        read_time = time.perf_counter() - start

    per = 1e3 / PAIRS
    print(f"{PAIRS} frame pairs of {ROI.num_x} x {ROI.num_y} px, embedded catalog")
    print(f"  bare count of an ophyd.sim image detector + catalog: {baseline * per:7.1f} ms/pair")
    print(
        f"    + catalog catching up after the run:               {baseline_drain * per:7.1f}"
        " ms/pair"
    )
    print(
        f"  frame pair plan + catalog (RunEngine thread):         {ours_stored * per:7.1f} "
        f"ms/pair ({ours_stored / baseline:.2f}x the bare count)"
    )
    print(f"    + catalog catching up after the run:               {drain * per:7.1f} ms/pair")
    print(
        f"  total with catch-up: ours / bare count = "
        f"{(ours_stored + drain) / (baseline + baseline_drain):.2f}x"
    )
    print(
        f"  bare count, one event per line ({2 * ROI.num_y} a pair) + catalog, with catch-up: "
        f"{by_line * per:7.1f} ms/pair; ours / it = {(ours_stored + drain) / by_line:.2f}x"
    )
    print(f"  frame pair plan, no storage:                         {ours_bare * per:7.1f} ms/pair")
    print(f"    of which the simulator's rasters:                  {simulation * per:7.1f} ms/pair")
    print(
        f"  RunEngine + storage overhead (ours - simulation):    "
        f"{(ours_stored + drain - simulation) * per:7.1f} ms/pair"
    )
    print(
        f"  replay through the analysis: {replay_time * per:7.1f} ms/pair (one analysed frame) "
        f"(reading {documents} documents alone: {read_time * per:.1f} ms/pair)"
    )


if __name__ == "__main__":
    main()
