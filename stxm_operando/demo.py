"""The simulated operando demo: two particles, 4C lithiation and 4C delithiation with rests,
two-energy images every simulated minute, stored in the embedded catalog."""

import time
from dataclasses import dataclass
from pathlib import Path

from event_model import DocumentRouter

from .config import BeamlineConfig, default_catalog, tiled_api_key
from .devices import simulated_beamline
from .live_callbacks import (
    AnalysisPublisher,
    OperandoAnalysis,
    SummaryRow,
    check_address,
    json_publisher,
    print_summary,
)
from .plans import Galvanostatic, Rest, find_particles, operando
from .run_engine import analyse_off_the_run_engine, make_run_engine
from .storage import CatalogError, open_catalog
from .streams import PROTOCOL_STREAM


@dataclass
class DemoResult:
    """What the demo made: the catalog, run ids, the analysis and the figures."""

    catalog: str
    operando_uid: str
    summary: list[SummaryRow]
    figures: list[Path]
    analysis: OperandoAnalysis


class MilestonePrinter(DocumentRouter):
    """Prints each protocol milestone as it is recorded: beamline time (min), step, what
    happened and why, cell voltage (V)."""

    def __init__(self) -> None:
        super().__init__()
        self.protocol_streams: set[str] = set()

    def descriptor(self, doc: dict) -> None:
        if doc["name"] == PROTOCOL_STREAM:
            self.protocol_streams.add(doc["uid"])

    def event(self, doc: dict) -> None:
        if doc["descriptor"] in self.protocol_streams:
            data = doc["data"]
            print(
                f"  t = {data['protocol_time'] / 60:6.1f} min  step {data['protocol_step'] + 1}"
                f"  {data['protocol_event']}: {data['protocol_reason']}"
                f"  ({data['protocol_voltage']:.3f} V)"
            )


def run_demo(
    config: BeamlineConfig | None = None,
    output: str | Path = "demo-output",
    catalog: str | None = None,
    c_rate: float = 4.0,
    every_s: float = 60.0,
    progress: bool = True,
    publish: str | None = None,
) -> DemoResult:
    """Find the particles, run the operando protocol, print the summary, save figures.

    ``progress`` prints each protocol milestone as it is recorded.
    The analysis runs on its own thread and its results are stored as an analysis run;
    ``publish`` (host:port of a 0MQ proxy) also streams the documents to live monitors.
    """
    from .gui.figures import (
        output_folder,
        save_li_maps,
        save_monitor_screenshot,
        save_voltage_curve,
    )

    started = time.perf_counter()
    if publish is not None:
        check_address(publish)
    output = output_folder(output)  # before anything runs: its figures will have a place
    beamline = simulated_beamline(config)
    analysis = OperandoAnalysis()
    location = catalog or default_catalog()
    with open_catalog(location, api_key=tiled_api_key()) as catalog:
        writer = catalog.writer()
        RE = make_run_engine(beamline, writer, catalog=catalog)
        threaded = analyse_off_the_run_engine(RE, analysis)
        # analysis documents through a writer of their own: if storing them fails, the
        # acquisition's writer (and so the run) is not touched
        analysis_writer = catalog.writer()
        publisher = AnalysisPublisher(
            analysis_writer, md={"sample": "LiFePO4 platelets (simulated)"}
        )
        analysis.frame_listeners.append(publisher)
        if progress:
            RE.subscribe(MilestonePrinter())
        zmq_publisher = json_publisher(publish) if publish else None
        if zmq_publisher is not None:
            RE.subscribe(zmq_publisher)
        rois = RE(find_particles(beamline, num_x=80, num_y=60, dwell_ms=0.5)).plan_result
        print(
            f"found {len(rois)} particles: "
            + ", ".join(
                f"#{r.particle_id} at ({r.center_x_um:.2f}, {r.center_y_um:.2f}) um" for r in rois
            )
        )
        protocol = [
            Galvanostatic(c_rate=c_rate, until_V=3.0),
            Rest(600.0),
            Galvanostatic(c_rate=-c_rate, until_V=3.9),
            Rest(600.0),
        ]
        result = RE(
            operando(
                beamline,
                protocol,
                rois,
                every_s=every_s,
                sample="LiFePO4 platelets (simulated)",
                initial_soc=beamline.world.electrode.mean_fraction,
            )
        )
        uid = result.run_start_uids[0]
        threaded.join()
        publisher.close()
        writer.flush()
        try:
            analysis_writer.flush()
        except CatalogError as err:  # the acquisition is stored; say what is missing
            print(f"analysis documents not stored: {err}")
        if zmq_publisher is not None:
            zmq_publisher.close()
    rows = analysis.summary(0.5)
    figures = _figures(analysis, output, save_li_maps, save_voltage_curve)
    figures.append(save_monitor_screenshot(analysis, output / "monitor.png"))
    print(f"\ndata: catalog {location}, operando run {uid}")
    print(f"steps ended by: {'; '.join(result.plan_result)}")
    print(f"{len(analysis.frames)} particle frames analysed; surface vs interior at SoC 0.5:")
    print_summary(rows)
    print("figures: " + ", ".join(str(f) for f in figures))
    print(
        f"simulated {beamline.world.clock_s / 60:.1f} min in {time.perf_counter() - started:.1f} s"
    )
    return DemoResult(location, uid, rows, figures, analysis)


def _figures(analysis, output, save_li_maps, save_voltage_curve) -> list[Path]:
    ec = analysis.electrochemistry()
    image_times = sorted({f.analysis.time_s for f in analysis.frames})
    figures = [
        save_voltage_curve(
            ec["time"],
            ec["voltage"],
            output / "voltage.png",
            title="cell voltage and current, with the imaging times",
            current_A=ec["current"],
            image_times_s=image_times,
        )
    ]
    particles = sorted({f.particle_id for f in analysis.frames})
    directions = [
        d for d in ("lithiation", "delithiation") if any(f.direction == d for f in analysis.frames)
    ]
    maps, labels, captions = [], [], []
    start_s = min(f.analysis.time_s for f in analysis.frames)
    for direction in directions:
        for pid in particles:
            frames = [
                f for f in analysis.frames if f.particle_id == pid and f.direction == direction
            ]
            picks = [frames[round(k * (len(frames) - 1) / 5)] for k in range(6)]
            maps.append([f.li_map for f in picks])
            labels.append(f"{direction}, particle {pid}")
            captions.append(
                [
                    f"{(f.analysis.time_s - start_s) / 60:.0f} min, step {f.protocol_step + 1}"
                    f"<br>x = {f.mean_fraction:.2f}, {f.voltage_V:.3f} V"
                    for f in picks
                ]
            )
    figures.append(
        save_li_maps(
            maps,
            labels,
            ["first frame", "", "", "", "", "last frame"],
            output / "li_maps.png",
            pixel_nm=analysis.frames[0].pixel_size_nm,
            title="Li fraction during the protocol (time from the first image)",
            captions=captions,
        )
    )
    return figures
