"""How long a reader (the monitor's redraw) waits for ``OperandoAnalysis.snapshot()`` while a
512 x 512 frame pair is being analysed, against the same reads with the analysis idle.

The pair arrives as the two image events of a stored-style document stream; a feeding
thread runs the analysis while this thread reads a snapshot every millisecond.

Run: ``python benchmarks/bench_snapshot.py``
"""

import statistics
import threading
import time

import numpy as np
from bench_analysis_chain import field
from event_model import compose_run

from stxm_operando.live_callbacks import OperandoAnalysis

SIZE = 512


def documents(rng) -> list[tuple[str, dict]]:
    """A two_energy_image run of a 512 x 512 field of platelets, as documents."""
    run = compose_run(
        metadata={
            "plan_name": "two_energy_image",
            "energies": [708.2, 710.2],
            "pixel_size_nm": 40.0,
        }
    )
    y, x = np.mgrid[0:SIZE, 0:SIZE] * 0.04
    keys = ("raster_image", "raster_x_positions", "raster_y_positions", "raster_energy")
    keys += ("raster_end_time", "frame_index", "raster_complete")
    bundle = run.compose_descriptor(
        name="particle_0",
        data_keys={k: {"source": "bench", "dtype": "number", "shape": []} for k in keys},
    )
    docs = [("start", run.start_doc), ("descriptor", bundle.descriptor_doc)]
    for energy, counts in zip((708.2, 710.2), field(SIZE, 0.3, (0, 0), rng), strict=True):
        data = {
            "raster_image": counts,
            "raster_x_positions": x,
            "raster_y_positions": y,
            "raster_energy": energy,
            "raster_end_time": 1.0,
            "frame_index": 0,
            "raster_complete": True,  # as ImageAssembler puts a raster's lines together
        }
        docs.append(
            (
                "event",
                bundle.compose_event(
                    data=data, timestamps=dict.fromkeys(keys, 0.0), validate=False
                ),
            )
        )
    return docs


def feed(analysis: OperandoAnalysis, docs: list, busy: threading.Event) -> None:
    """Feed the documents, then clear ``busy``."""
    for name, doc in docs:
        analysis(name, doc)
    busy.clear()


def read_while(analysis: OperandoAnalysis, busy: threading.Event) -> list[float]:
    """Milliseconds of each snapshot taken, one per ms, while ``busy`` is set."""
    waits = []
    while busy.is_set():
        start = time.perf_counter()
        analysis.snapshot()
        waits.append((time.perf_counter() - start) * 1e3)
        time.sleep(1e-3)
    return waits


def main(repeats: int = 3) -> None:
    rng = np.random.default_rng(0)
    loaded, idle = [], []
    for _ in range(repeats):
        analysis = OperandoAnalysis()
        busy = threading.Event()
        busy.set()
        feeder = threading.Thread(target=feed, args=(analysis, documents(rng), busy))
        feeder.start()
        loaded += read_while(analysis, busy)
        feeder.join()
        assert len(analysis.frames) == 1, analysis.failures
        timer = threading.Event()
        timer.set()
        threading.Timer(0.3, timer.clear).start()
        idle += read_while(analysis, timer)
    print(f"snapshot() while a {SIZE}x{SIZE} pair is analysed, vs. with the analysis idle (ms)")
    print(f"{'':>22s} {'median':>8s} {'worst':>8s} {'reads':>6s}")
    for label, waits in (("during the analysis", loaded), ("idle (baseline)", idle)):
        print(f"{label:>22s} {statistics.median(waits):8.3f} {max(waits):8.3f} {len(waits):6d}")
    print(f"worst during / worst idle: {max(loaded) / max(idle):.1f}x (goal: worst < 20 ms)")


if __name__ == "__main__":
    main()
