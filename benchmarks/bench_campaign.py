"""A campaign's cost: runs analysed per second in this process (``--workers 0``) and on a
local dask cluster of 1 and 2 workers (cluster start-up included, as a user waits for it),
each beside the baseline of replaying the same runs through the live analysis in this
process without the campaign around it.

Run: ``python benchmarks/bench_campaign.py [RUNS]`` (default 6 short operando runs).
"""

import sys
import tempfile
import time
from pathlib import Path

from bluesky import RunEngine

from stxm_operando.campaign import run_campaign
from stxm_operando.devices import simulated_beamline
from stxm_operando.live_callbacks import OperandoAnalysis
from stxm_operando.plans import Galvanostatic, ParticleROI, operando
from stxm_operando.storage import Catalog
from stxm_operando.storage.replay import replay


def record(path: Path, runs: int) -> list[str]:
    with Catalog.embedded(path) as catalog:
        for k in range(runs):
            bl, RE = simulated_beamline(), RunEngine({}, context_managers=[])
            writer = catalog.writer()
            RE.subscribe(writer)
            c_rate = (2.0, 4.0, 6.0)[k % 3]
            step = Galvanostatic(c_rate=c_rate, until_V=3.0, duration_s=3600.0 / c_rate)
            RE(
                operando(
                    bl, [step], [ParticleROI(0, -0.9, 0.2, 30, 20)], every_s=60.0, dwell_ms=0.5
                )
            )
            writer.flush()
        return catalog.search(plan_name="operando")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "catalog"
        uids = record(path, runs)
        start = time.perf_counter()
        with Catalog.embedded(path, read_only=True) as catalog:
            for uid in uids:
                replay(catalog, uid, OperandoAnalysis())
        baseline = time.perf_counter() - start
        print(f"{runs} runs; baseline (replay + live analysis, this process): {baseline:.2f} s")
        for workers in (0, 1, 2):
            start = time.perf_counter()
            done = run_campaign(
                str(path), Path(scratch) / f"out{workers}", workers=workers, progress=False
            )
            took = time.perf_counter() - start
            assert done.analysed == runs and not done.failures
            print(
                f"workers={workers}: {took:.2f} s, {runs / took:.2f} runs/s, "
                f"{took / baseline:.2f}x the baseline"
            )


if __name__ == "__main__":
    main()
