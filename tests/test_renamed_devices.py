"""A beamline that names its devices its own way (``session.names``) is analysed, exported
and displayed exactly as one with the default names: every consumer finds the data keys of
a device by its role, from the run's own start document (``streams.DataKeys``)."""

import csv

import h5py
import numpy as np
import pytest
from bluesky import RunEngine

from stxm_operando.config import BeamlineConfig, DeviceNames, SessionConfig
from stxm_operando.devices import simulated_beamline
from stxm_operando.export import export_csv, export_nxstxm
from stxm_operando.gui.stack_view import StackCollector
from stxm_operando.live_callbacks import OperandoAnalysis
from stxm_operando.live_callbacks.lines import assembled
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando, stack, two_energy_image
from stxm_operando.run_engine import make_run_engine
from stxm_operando.storage import Catalog

RENAMED = DeviceNames(scanner="zps", potentiostat="pstat", raster="stxm_det", clock="bl_clock")
ROI = ParticleROI(0, -0.9, 0.2, 20, 14)
PROTOCOL = [Galvanostatic(c_rate=4.0, duration_s=240.0), Rest(120.0)]


def recorded(names: DeviceNames, tmp_path, plan):
    """A run of ``plan(beamline)`` on a simulated beamline whose devices have ``names``,
    analysed live and stored; returns (live analysis, catalog path, start uid, documents)."""
    config = BeamlineConfig(session=SessionConfig(names=names))
    beamline = simulated_beamline(config)
    analysis, documents = OperandoAnalysis(), []
    path = tmp_path / f"catalog-{names.raster}"
    with Catalog.embedded(path) as catalog:
        writer = catalog.writer()
        RE = make_run_engine(beamline, writer)
        for callback in (analysis, lambda n, d: documents.append((n, d))):
            RE.subscribe(callback)
        result = RE(plan(beamline))
        writer.flush()
    return analysis, path, result.run_start_uids[0], documents


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("renamed")

    def plan(beamline):
        return operando(beamline, PROTOCOL, [ROI], every_s=60.0, dwell_ms=0.5)

    return recorded(DeviceNames(), tmp, plan), recorded(RENAMED, tmp, plan)


def test_the_renamed_devices_are_in_the_documents(both):
    _, (_, _, _, documents) = both
    keys = {k for name, doc in documents if name == "event_page" for k in doc["data"]}
    assert "stxm_det_counts" in keys and "raster_counts" not in keys
    start = next(doc for name, doc in documents if name == "start")
    assert start["device_roles"]["raster"] == "stxm_det"
    assert start["detectors"] == ["pstat", "stxm_det"]


def test_renamed_devices_give_the_same_frames_and_statistics(both):
    (default, *_), (renamed, *_) = both
    assert len(default.frames) == len(renamed.frames) >= 6
    for a, b in zip(default.frames, renamed.frames, strict=True):
        assert (a.frame_index, a.particle_id, a.direction) == (
            b.frame_index,
            b.particle_id,
            b.direction,
        )
        assert np.allclose(a.analysis.x, b.analysis.x, equal_nan=True)
        assert a.voltage_V == pytest.approx(b.voltage_V)
    assert renamed.summary() == default.summary()
    assert renamed.failures == default.failures == []


def test_renamed_devices_export_the_same_files(both, tmp_path):
    frames, stacks = [], []
    for _, path, uid, _ in both:
        folder = tmp_path / path.name
        with Catalog.embedded(path, read_only=True) as catalog:
            export_nxstxm(catalog, uid, folder / "series.nxs")
            export_csv(catalog, uid, folder / "csv")
        with open(folder / "csv" / "frames.csv") as rows:
            frames.append(list(csv.DictReader(rows)))
        with h5py.File(folder / "series.nxs") as nexus:
            entries = sorted(k for k in nexus if k.startswith("entry"))  # the passes
            stacks.append([nexus[f"{entry}/data/data"][()] for entry in entries])
    assert len(frames[0]) >= 6 and frames[1] == frames[0]
    assert len(stacks[0]) >= 6
    for a, b in zip(*stacks, strict=True):
        assert np.array_equal(a, b, equal_nan=True)


def test_a_renamed_raster_is_shown_in_the_stack_viewer(tmp_path):
    energies = [705.0, 708.2, 710.2]

    def plan(beamline):
        return stack(beamline, ROI, energies, dwell_ms=0.5)

    *_, documents = recorded(RENAMED, tmp_path, plan)
    collector = StackCollector()
    for name, doc in assembled(documents):
        collector(name, doc)
    shown, images = collector.stack()
    assert list(shown) == pytest.approx(energies) and images.shape == (3, 14, 20)


def test_renamed_epics_devices_are_analysed_as_the_default_names(ioc_process):
    """Over Channel Access (a caproto IOC), a raster renamed in ``session.names`` is
    analysed as one with the default name: the same image of the same (IOC) world gives
    one frame either way."""
    from conftest import connect_epics

    from stxm_operando.devices import epics_beamline

    process, prefix = ioc_process
    connect_epics(prefix, process)  # the IOC answers
    frames = {}
    for names in (DeviceNames(), RENAMED):
        config = BeamlineConfig(session=SessionConfig(names=names))
        beamline = epics_beamline(config, prefix=prefix, timeout=10.0)
        analysis = OperandoAnalysis()
        RE = RunEngine({})
        RE.subscribe(analysis)
        RE(two_energy_image(beamline, ROI, dwell_ms=0.5))
        assert analysis.failures == []
        frames[names.raster] = analysis.frames
    assert len(frames["raster"]) == len(frames["stxm_det"]) == 1
    default, renamed = frames["raster"][0], frames["stxm_det"][0]
    assert renamed.analysis.x.shape == default.analysis.x.shape == (ROI.num_y, ROI.num_x)
    assert renamed.energies_eV == default.energies_eV == (708.2, 710.2)
