"""A shift-long operando run keeps every particle centred, and its live analysis never stops
the acquisition: the simulator's own drift is the ground truth."""

import numpy as np
from bluesky import RunEngine

from stxm_operando.config import BeamlineConfig, ParticleConfig, SimConfig
from stxm_operando.devices import simulated_beamline
from stxm_operando.live_callbacks import ImageAssembler, OperandoAnalysis, ThreadedCallback
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando

PIXEL_UM = 0.04


def test_a_12_hour_c10_run_keeps_the_particle_within_3_px_of_its_roi_centre():
    centre = (-0.9, 0.2)
    config = BeamlineConfig(sim=SimConfig(particles=(ParticleConfig(center_um=centre),)))
    bl = simulated_beamline(config)
    hours = 12 * 3600.0
    assert np.hypot(*bl.world.drift_um(hours)) > 50 * PIXEL_UM  # drift worth tracking
    RE = RunEngine({}, call_returns_result=True)
    analysis = ThreadedCallback(OperandoAnalysis())
    images, assembler = [], ImageAssembler()
    RE.subscribe(analysis)

    def take_images(name: str, doc: dict) -> None:
        for name_, doc_ in assembler(name, doc):
            if name_ == "event" and "raster_image" in doc_["data"]:
                images.append(doc_["data"])

    RE.subscribe(take_images)
    # 90 % of the capacity, so that no voltage cutoff ends the step early, then a rest
    protocol = [Galvanostatic(c_rate=0.1, duration_s=9 * 3600.0), Rest(3 * 3600.0)]
    roi = ParticleROI(0, *centre, 34, 22)
    RE(operando(bl, protocol, [roi], every_s=600.0, dwell_ms=0.5))
    assert bl.world.clock_s >= hours
    offsets = []
    for image in images:  # where the particle truly was, from the simulator's drift
        time_s = (image["raster_start_time"] + image["raster_end_time"]) / 2
        truth = np.add(centre, bl.world.drift_um(time_s))
        roi_centre = np.mean(image["raster_x_positions"]), np.mean(image["raster_y_positions"])
        offsets.append(np.hypot(*np.subtract(roi_centre, truth)) / PIXEL_UM)
    assert len(images) == 2 * 12 * 3600 / 600
    assert max(offsets) < 3.0, max(offsets)
    analysis.join()
    assert analysis.failures == 0
    assert len(analysis.callback.frames) == len(images) // 2  # every frame analysed


def test_a_failing_analysis_never_stops_the_run_and_its_documents_are_stored(tmp_path):
    """A live analysis that fails on a frame and an analysis-document listener that fails
    on another: both are reported and skipped; the run completes and is stored."""
    from stxm_operando.analysis import pipeline
    from stxm_operando.storage import Catalog

    bl = simulated_beamline()
    analysis = OperandoAnalysis()
    real = pipeline.analyse_frame_pair
    calls = []

    def fails_on_the_third_pair(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("forced analysis failure")
        return real(*args, **kwargs)

    def listener(record):
        if record.frame_index == 1:
            raise OSError("forced storage failure")

    analysis.frame_listeners.append(listener)
    threaded = ThreadedCallback(analysis)
    import stxm_operando.live_callbacks.frames as live

    live.analyse_frame_pair = fails_on_the_third_pair
    try:
        with Catalog.embedded(tmp_path / "catalog") as catalog:
            RE = RunEngine({}, call_returns_result=True)
            writer = catalog.writer()
            RE.subscribe(writer)
            RE.subscribe(threaded)
            protocol = [Galvanostatic(c_rate=2.0, duration_s=300.0)]
            rois = [ParticleROI(0, -0.9, 0.2, 34, 22), ParticleROI(1, 1.0, -0.4, 34, 22)]
            result = RE(operando(bl, protocol, rois, every_s=60.0, dwell_ms=0.5))
            threaded.join()
            writer.flush()
            (uid,) = result.run_start_uids[:1]
            assert catalog.run(uid).metadata["stop"]["exit_status"] == "success"
    finally:
        live.analyse_frame_pair = real
    assert threaded.failures == 0  # the analysis reported its failures itself
    assert len(analysis.failures) == 2  # the failed pair; the listener on the other frame 1
    assert any("forced analysis failure" in f for f in analysis.failures)
    assert len(analysis.frames) == 2 * 5 - 1  # every other frame analysed


def test_a_reader_never_waits_for_a_frame_being_analysed():
    """The analysis of a frame runs outside the lock that ``snapshot()`` takes: a reader
    on another thread gets its snapshot while the analysis is still computing."""
    import threading

    import stxm_operando.live_callbacks.frames as live

    analysis = OperandoAnalysis()
    real = live.analyse_frame_pair
    answered = []

    def analyse_while_a_reader_reads(*args, **kwargs):
        reader = threading.Thread(target=lambda: answered.append(analysis.snapshot()))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the reader waited for the analysis"
        return real(*args, **kwargs)

    live.analyse_frame_pair = analyse_while_a_reader_reads
    try:
        RE = RunEngine({}, context_managers=[])
        RE.subscribe(analysis)
        rois = [ParticleROI(0, -0.9, 0.2, 34, 22)]
        RE(operando(simulated_beamline(), [Rest(120.0)], rois, every_s=60.0, dwell_ms=0.5))
    finally:
        live.analyse_frame_pair = real
    assert len(answered) == len(analysis.frames) == 2 and not analysis.failures
