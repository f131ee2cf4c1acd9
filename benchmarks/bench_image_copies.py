"""How many times storing a 1024 x 1024 two-energy frame pair copies its data, and where.

memray records every malloc-family allocation of the process (all threads), with its size and
Python stack. The figure is the bytes allocated in blocks of at least half a raster line, in
units of the pair's data: an upper bound on the copies, since it also counts anything else
that large (a ``repr``, a request body) and a realloc'd buffer at every size it grows to.
A pair records 2 x 1024^2 counts and, as a fly scan does, the x and y position of every
pixel: 3 values of 8 bytes per pixel, 48 MiB.

Measured side by side in one run, into one embedded catalog (journal and tiled writer):
  * ours: the pair as ``two_energy_image`` takes it (RunEngine, devices, simulator, line
    pages), with storage less without: what storing adds; and where the stored run's large
    allocations come from;
  * baseline: a bluesky ``count`` of an ophyd.sim 1024^2 image detector (2 events, images
    only, 16 MiB), with storage less without.
Goal: the pair stored without copying the image more than twice.

Run: ``python benchmarks/bench_image_copies.py``
"""

import collections
import tempfile
from collections.abc import Callable
from pathlib import Path

import bluesky.plans as bp
import memray
import numpy as np
from bluesky import RunEngine
from ophyd.sim import SynSignal

from stxm_operando.devices import simulated_beamline
from stxm_operando.plans import ParticleROI, two_energy_image
from stxm_operando.storage import Catalog

SIZE = 1024
LINE_BYTES = SIZE * 8
PAIR_BYTES = 3 * 2 * SIZE * SIZE * 8  # counts, x and y positions of two images
NOT_ALLOCATIONS = {  # releases, and the maps of Python's own small-object arenas
    memray.AllocatorType.FREE,
    memray.AllocatorType.MUNMAP,
    memray.AllocatorType.MMAP,
}
STAGES = [  # where a large allocation is made: the innermost frame naming one of these
    ("jsonschema", "event-model's schema validation (bluesky, TiledWriter)"),
    ("zarr", "zarr's chunk encoding (tiled server)"),
    ("stxm_operando/storage/journal", "our journal"),
    ("bluesky_tiled_plugins", "bluesky-tiled-plugins' TiledWriter"),
    ("tiled/", "tiled client and server"),
    ("selector_events", "tiled client and server"),
    ("aiosqlite", "tiled client and server"),
    ("stxm_operando/sim", "the simulator"),
    ("stxm_operando/physics", "the simulator"),
]


def large_allocations(path: Path) -> tuple[int, collections.Counter]:
    """Bytes in allocations of at least half a line recorded in memray capture ``path``, and
    those bytes by stage (``STAGES``; "other" for the rest)."""
    by_stage: collections.Counter = collections.Counter()
    for record in memray.FileReader(path).get_allocation_records():
        if record.allocator in NOT_ALLOCATIONS or record.size < LINE_BYTES // 2:
            continue
        files = [frame[1] for frame in record.stack_trace()]
        stage = next(
            (name for file in files for key, name in STAGES if key in file.replace("\\", "/")),
            "other (RunEngine, devices, plans, callbacks)",
        )
        by_stage[stage] += record.size
    return sum(by_stage.values()), by_stage


def captured(directory: Path, name: str, action: Callable[[], object]) -> Path:
    path = directory / f"{name}.memray"
    with memray.Tracker(path, native_traces=False):
        action()
    return path


def main() -> None:
    beamline = simulated_beamline()
    image = SynSignal(func=lambda: np.ones((SIZE, SIZE)), name="img")

    def pair(size: int = SIZE) -> object:
        roi = ParticleROI(0, -0.9, 0.2, size, size)
        return two_energy_image(beamline, roi, dwell_ms=0.05, step_nm=20.0)

    def count() -> object:
        return bp.count([image], num=2)

    with tempfile.TemporaryDirectory() as tmp, Catalog.embedded(tmp) as catalog:
        stored, bare = RunEngine({}, context_managers=[]), RunEngine({}, context_managers=[])
        writer = catalog.writer()
        stored.subscribe(writer)

        def stored_run(plan: Callable[[], object]) -> Callable[[], None]:
            return lambda: (stored(plan()), writer.flush())

        def bare_run(plan: Callable[[], object]) -> Callable[[], None]:
            return lambda: bare(plan())

        def warm_up() -> object:
            return pair(64)

        for run in (stored_run(warm_up), bare_run(warm_up), stored_run(count), bare_run(count)):
            run()  # imports, caches, the catalog's first writes
        captures = Path(tmp) / "captures"
        captures.mkdir()
        ours, by_stage = large_allocations(captured(captures, "ours", stored_run(pair)))
        ours_bare, _ = large_allocations(captured(captures, "ours-bare", bare_run(pair)))
        baseline, _ = large_allocations(captured(captures, "count", stored_run(count)))
        baseline_bare, _ = large_allocations(captured(captures, "count-bare", bare_run(count)))
        writer.stop()
    image_bytes = PAIR_BYTES // 3
    copies = (ours - ours_bare) / PAIR_BYTES
    baseline_copies = (baseline - baseline_bare) / image_bytes
    print(
        f"copies of a {SIZE}^2 two-energy frame pair: bytes allocated in blocks >= half a line"
        f" (memray), in units of the pair's data ({PAIR_BYTES / 2**20:.0f} MiB: counts and x, y"
        " positions); an upper bound"
    )
    print(f"  ours, stored:     {ours / PAIR_BYTES:6.2f}")
    print(f"  ours, not stored: {ours_bare / PAIR_BYTES:6.2f}")
    print(
        f"  storing adds (journal + tiled): {copies:.2f} copies "
        f"(goal <= 2: {'met' if copies <= 2 else 'NOT met'})"
    )
    print(
        f"  baseline, bare count of an ophyd.sim {SIZE}^2 image detector ({image_bytes / 2**20:.0f}"
        f" MiB of images): storing adds {baseline_copies:.2f} copies; ours / baseline "
        f"{copies / baseline_copies:.2f}x"
    )
    print("  where the stored run's large allocations are made (units of the pair's data):")
    for stage, size in by_stage.most_common():
        print(f"    {size / PAIR_BYTES:6.2f}  {stage}")


if __name__ == "__main__":
    main()
