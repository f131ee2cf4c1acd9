"""Monitor: frame-update latency and sustained frames per second at 256^2 and 512^2, and the
end-to-end latency from the last image of a frame pair to the Li map on screen.

Documents come from a real (simulated) operando run with one particle ROI of N x N pixels;
the window is drawn offscreen. Baseline, measured in the same run: a bare pyqtgraph window
of four ImageItems (the panel's images alone) updated with the same frames. Goal: >= 20
frames/s at 512^2.
Run: ``python benchmarks/bench_monitor.py``
"""

import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
from bluesky import RunEngine

from stxm_operando.devices import simulated_beamline
from stxm_operando.gui.monitor import MonitorWindow
from stxm_operando.plans import Galvanostatic, ParticleROI, operando

EVERY_S = 120.0
"""Imaging period, s: a 512^2 two-energy pass at 0.05 ms dwell takes 83 s with the
fly-back between lines."""


def documents_for(size: int, frames: int) -> list[tuple[str, dict]]:
    documents = []
    RE = RunEngine({}, context_managers=[])
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    roi = ParticleROI(0, 0.0, 0.0, size, size)
    RE(
        operando(
            simulated_beamline(),
            [Galvanostatic(c_rate=2.0, duration_s=EVERY_S * frames)],
            [roi],
            every_s=EVERY_S,
            dwell_ms=0.05,
            step_nm=20.0,
        )
    )
    return documents


def ends_a_pair(name: str, doc: dict, size: int, energies=(708.2, 710.2)) -> bool:
    """The event page ending with the last line of a pair's second image: the pair is
    analysed when it arrives."""
    data = doc.get("data", {}) if name == "event_page" else {}
    if "raster_row" not in data:
        return False
    return (
        data["raster_row"][-1] == size - 1 and abs(data["raster_energy"][-1] - energies[1]) < 1e-3
    )


def measure(app, size: int, frames: int = 6) -> tuple[list[float], float, float]:
    documents = documents_for(size, frames)
    window = MonitorWindow()
    window.show()
    end_to_end = []
    for name, doc in documents:
        if ends_a_pair(name, doc, size):
            start = time.perf_counter()
            window.document(name, doc)  # the analysis of the pair runs here
            window.refresh()
            app.processEvents()
            end_to_end.append(time.perf_counter() - start)
        else:
            window.document(name, doc)
    window.refresh()
    indices = window.frame_indices
    update = []
    for _ in range(3):
        for index in indices:
            start = time.perf_counter()
            window.show_frame(index)
            app.processEvents()
            update.append(time.perf_counter() - start)
    fps = len(update) / sum(update)
    images = [(*f.counts, f.li_map, np.nan_to_num(f.analysis.rate)) for f in window.frames]
    window.close()
    return end_to_end, statistics.median(update), fps, bare_pyqtgraph_fps(app, images)


def bare_pyqtgraph_fps(app, frames: list[tuple[np.ndarray, ...]]) -> float:
    """Frames/s of a plain pyqtgraph window showing four images per frame."""
    layout = pg.GraphicsLayoutWidget()
    items = []
    for column in range(4):
        view = layout.addViewBox(row=0, col=column, lockAspect=True)
        items.append(pg.ImageItem(axisOrder="row-major"))
        view.addItem(items[-1])
    layout.show()
    update = []
    for _ in range(3):
        for images in frames:
            start = time.perf_counter()
            for item, image in zip(items, images, strict=True):
                item.setImage(image)
            app.processEvents()
            update.append(time.perf_counter() - start)
    layout.close()
    return len(update) / sum(update)


def main() -> None:
    app = pg.mkQApp()
    print("monitor (offscreen), one particle ROI of N x N px, 4 image panels + plots + table")
    for size in (256, 512):
        end_to_end, update, fps, bare = measure(app, size)
        goal = "" if size != 512 else f" (goal >= 20: {'met' if fps >= 20 else 'NOT met'})"
        print(
            f"  {size}^2: frame update median {update * 1e3:6.1f} ms, sustained {fps:5.1f} "
            f"frames/s{goal}; bare pyqtgraph 4-image window {bare:5.1f} frames/s "
            f"(monitor / bare {fps / bare:.2f}); last image -> Li map on screen median "
            f"{statistics.median(end_to_end) * 1e3:6.1f} ms (max "
            f"{max(end_to_end) * 1e3:.1f} ms)"
        )


if __name__ == "__main__":
    main()
