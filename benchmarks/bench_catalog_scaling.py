"""Does the embedded catalog slow down as it fills? The same operations with 10 and with 500
runs in it, side by side: opening it, a two-key metadata search and the browser's start
documents of its matches (5 runs in both catalogs), writing one more run, and reading a run
back. Goal: each within 1.5x between 10 and 500 runs. Listing every uid is shown too; its
answer grows with the catalog.

Run: ``python benchmarks/bench_catalog_scaling.py``
"""

import statistics
import tempfile
import time
from pathlib import Path

import bluesky.plans as bp
from bluesky import RunEngine
from ophyd.sim import det

from stxm_operando.storage import Catalog

SIZES = (10, 500)
REPEATS = 5


MATCHES = 5


def fill(path: Path, runs: int) -> None:
    """``runs`` small runs: the first ``MATCHES`` of sample "LFP-B" in cycle 0, the rest of
    "LFP-A" in cycles 0-2."""
    with Catalog.embedded(path) as catalog:
        writer = catalog.writer()
        RE = RunEngine({}, context_managers=[])
        RE.subscribe(writer)
        for index in range(runs):
            if index < MATCHES:
                RE(bp.count([det], num=3), sample="LFP-B", cycle=0)
            else:
                RE(bp.count([det], num=3), sample="LFP-A", cycle=index % 3)
        writer.flush()


def median_ms(action) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def measure(path: Path) -> dict[str, float]:
    figures = {"open": median_ms(lambda: Catalog.embedded(path, read_only=True).close())}
    with Catalog.embedded(path) as catalog:
        uids = catalog.uids()
        figures["list uids"] = median_ms(catalog.uids)
        assert len(catalog.search(sample="LFP-B", cycle=0)) == MATCHES
        figures["search 2 keys"] = median_ms(lambda: catalog.search(sample="LFP-B", cycle=0))
        figures["start docs of matches"] = median_ms(
            lambda: catalog.starts(sample="LFP-B", cycle=0)
        )
        writer = catalog.writer()
        RE = RunEngine({}, context_managers=[])
        RE.subscribe(writer)

        def write_one() -> None:
            RE(bp.count([det], num=3), sample="LFP-C")
            writer.flush()

        figures["write a run"] = median_ms(write_one)
        figures["read a run"] = median_ms(lambda: list(catalog.documents(uids[len(uids) // 2])))
    return figures


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for runs in SIZES:
            path = Path(tmp) / f"catalog-{runs}"
            fill(path, runs)
            results[runs] = measure(path)
    small, large = (results[n] for n in SIZES)
    print(f"embedded catalog, median of {REPEATS}: {SIZES[0]} runs vs {SIZES[1]} runs")
    for name in small:
        ratio = large[name] / small[name]
        goal = (
            "(the answer grows with the runs)"
            if name == "list uids"
            else f"(goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})"
        )
        print(f"  {name:24s} {small[name]:8.1f} ms {large[name]:8.1f} ms  {ratio:5.2f}x {goal}")


if __name__ == "__main__":
    main()
