"""Catalog storage, replay, a tiled server, schema validity and NXstxm / CSV export."""

import csv
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
from bluesky import RunEngine
from event_model import DocumentNames, schema_validators

from stxm_operando.cli import main as cli_main
from stxm_operando.devices import simulated_beamline
from stxm_operando.export import export_csv, export_nxstxm
from stxm_operando.live_callbacks import OperandoAnalysis
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando, two_energy_image
from stxm_operando.storage import Catalog, CatalogError, UnknownRunError
from stxm_operando.storage.journal import read_journal
from stxm_operando.storage.replay import replay

ROIS = [ParticleROI(0, -0.9, 0.2, 34, 22), ParticleROI(1, 1.0, -0.4, 34, 22)]
PROTOCOL = [
    Galvanostatic(c_rate=4.0, until_V=3.0, duration_s=480.0),
    Rest(120.0),
    Galvanostatic(c_rate=-4.0, until_V=3.9, duration_s=480.0),
]


def validate(name: str, doc: dict) -> None:
    schema_validators[DocumentNames[name]].validate(doc)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """An operando series run live with analysis, stored in an embedded catalog."""
    path = tmp_path_factory.mktemp("catalog")
    bl = simulated_beamline()
    live = OperandoAnalysis()
    documents = []
    with Catalog.embedded(path) as catalog:
        RE = RunEngine({}, call_returns_result=True)
        writer = catalog.writer()
        for callback in (writer, live, lambda n, d: documents.append((n, d))):
            RE.subscribe(callback)
        result = RE(operando(bl, PROTOCOL, ROIS, every_s=60.0, dwell_ms=0.5, sample="LFP-A7"))
        writer.flush()
    return path, result.run_start_uids[0], live, documents


def test_every_emitted_document_is_schema_valid(stored):
    _, _, _, documents = stored
    assert {n for n, _ in documents} == {"start", "descriptor", "event", "event_page", "stop"}
    for name, doc in documents:
        validate(name, doc)


def test_runs_are_searchable_by_metadata(stored):
    path, uid, _, _ = stored
    with Catalog.embedded(path) as catalog:
        assert catalog.search(plan_name="operando", sample="LFP-A7") == [uid]
        series = catalog.start(uid)["series_id"]
        images = catalog.search(series_id=series, plan_name="operando_images")
        assert len(images) == 3
        assert catalog.search(series_id=series, direction="delithiation", protocol_step=2)
        start = catalog.start(images[0])
        assert start["c_rate"] == 4.0 and start["pixel_size_nm"] == 40.0
        assert catalog.search(sample="no such sample") == []


def test_replay_from_the_catalog_gives_the_live_results(stored):
    path, uid, live, _ = stored
    replayed = OperandoAnalysis()
    with Catalog.embedded(path) as catalog:
        count = replay(catalog, uid, replayed, validate)
    assert count > 500
    assert len(replayed.frames) == len(live.frames) > 20
    for a, b in zip(live.frames, replayed.frames, strict=True):
        assert (a.frame_index, a.particle_id) == (b.frame_index, b.particle_id)
        assert np.allclose(a.analysis.x, b.analysis.x, equal_nan=True)
    assert replayed.summary() == live.summary()
    for key in ("time", "voltage", "current"):
        assert np.allclose(replayed.electrochemistry()[key], live.electrochemistry()[key])


def test_a_narrow_raster_is_stored_and_read_back(tmp_path):
    """Lines of <= 16 pixels: bluesky-tiled-plugins would put them in the SQL table as list
    columns, which tiled's SQLite adapter refuses; they are stored as arrays like any other."""
    bl, RE = simulated_beamline(), RunEngine({}, context_managers=[])
    lines = []
    RE.subscribe(lambda name, doc: lines.append(doc) if name == "event_page" else None)
    with Catalog.embedded(tmp_path / "catalog") as catalog:
        writer = catalog.writer()
        RE.subscribe(writer)
        (uid,) = RE(two_energy_image(bl, ParticleROI(0, -0.9, 0.2, 12, 10), dwell_ms=0.5))
        writer.flush()
        stored = [d for n, d in catalog.documents(uid) if n in ("event", "event_page")]
    sent = np.concatenate([np.asarray(p["data"]["raster_counts"]) for p in lines])
    back = np.concatenate(
        [
            np.atleast_2d(np.asarray(d["data"]["raster_counts"]))
            for d in stored
            if "raster_counts" in d["data"]
        ]
    )
    assert sent.shape == back.shape == (20, 12) and np.array_equal(sent, back)


def test_unknown_run_ids_are_a_clear_error(stored, capsys):
    path, uid, _, _ = stored
    with Catalog.embedded(path) as catalog:
        for bad in ("not-a-run", "", None, uid[:4]):
            with pytest.raises(UnknownRunError, match="run"):
                catalog.run(bad)
    assert cli_main(["replay", "nope", "--catalog", str(path)]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_runs_lists_every_run_with_its_plan_sample_and_status(stored, capsys):
    path, uid, _, _ = stored
    assert cli_main(["runs", "--catalog", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["started", "scan", "uid", "plan", "sample", "protocol", "status"]
    operando_row = next(line for line in lines if uid[:8] in line)
    assert "operando" in operando_row and "LFP-A7" in operando_row
    assert "3 steps" in operando_row and operando_row.endswith("success")
    assert lines[-1] == f"4 of 4 runs in {path}"
    assert (
        cli_main(["runs", "--catalog", str(path), "--plan", "operando_images", "--limit", "2"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 2 + 1 and lines[-1] == f"2 of 3 runs in {path}"
    assert all("operando_images" in line for line in lines[1:3])


def test_scan_ids_go_on_across_sessions_and_a_shared_one_is_refused(tmp_path):
    from stxm_operando.run_engine import make_run_engine

    bl = simulated_beamline()
    roi = ParticleROI(0, -0.9, 0.2, 8, 6)
    with Catalog.embedded(tmp_path / "cat") as catalog:
        uids = []
        for _ in range(2):  # two sessions, each with a RunEngine of its own
            RE = make_run_engine(bl, catalog.writer(), catalog=catalog)
            uids.append(RE(two_energy_image(bl, roi, dwell_ms=0.5)).run_start_uids[0])
        assert [catalog.start(uid)["scan_id"] for uid in uids] == [1, 2]
        assert catalog.resolve("2") == uids[1]
        RE = RunEngine({}, call_returns_result=True)  # a RunEngine counting from 1 again
        RE.subscribe(catalog.writer())
        again = RE(two_energy_image(bl, roi, dwell_ms=0.5)).run_start_uids[0]
        with pytest.raises(UnknownRunError, match=f"2 runs .* scan id 1.*{again[:8]}"):
            catalog.resolve("1")


def normalized(document: dict) -> dict:
    """A document with its arrays as lists and NaN as None: comparable with ``==``."""
    if "data" not in document:
        return document
    data = {}
    for key, value in document["data"].items():
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = np.where(np.isnan(array), None, array.astype(object))
        data[key] = array.tolist()
    return dict(document, data=data)


def test_an_embedded_catalog_reads_the_documents_tileds_exporter_serves(stored):
    """Read in-process through tiled's adapter: document for document what bluesky-tiled-
    plugins' JSON-seq exporter serves over tiled's application, for every run."""
    path, *_ = stored
    with Catalog.embedded(path, read_only=True) as catalog:
        uids = catalog.uids()
        assert len(uids) == 4
        for uid in uids:
            read = [(name, normalized(doc)) for name, doc in catalog.documents(uid)]
            served = [(name, normalized(doc)) for name, doc in catalog.run(uid).documents()]
            assert read == served
            assert {name for name, _ in read} == {"start", "descriptor", "event", "stop"}


def test_a_read_only_catalog_is_read_from_any_thread_and_refuses_once_closed(stored):
    path, uid, *_ = stored
    first = Catalog.embedded(path, read_only=True)
    second = Catalog.embedded(path, read_only=True)  # one directory, two readers at once
    counts, errors = [], []

    def count_runs():
        try:
            counts.extend(first.count() for _ in range(20))
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=count_runs) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert len(list(second.documents(uid))) > 100
    for thread in threads:
        thread.join(60)
    assert errors == [] and counts == [4] * 60
    with pytest.raises(CatalogError, match="read-only"):
        first.writer()
    first.close()
    assert second.count() == 4  # closing one reader leaves the other's connections
    second.close()
    with pytest.raises(CatalogError, match="closed"):
        first.count()


def test_every_command_takes_a_uid_a_prefix_or_a_scan_id(stored, tmp_path, capsys):
    path, uid, *_ = stored
    with Catalog.embedded(path, read_only=True) as catalog:
        scan_id = catalog.start(uid)["scan_id"]
        assert catalog.resolve(uid) == catalog.resolve(uid[:8]) == uid
        assert catalog.resolve(str(scan_id)) == catalog.resolve(scan_id) == uid
        with pytest.raises(UnknownRunError, match="scan id 999"):
            catalog.resolve("999")
    for run_id in (uid[:8], str(scan_id)):
        command = ["export", run_id, "--catalog", str(path), "--csv", str(tmp_path / run_id)]
        assert cli_main(command) == 0, capsys.readouterr().err[-2000:]
        assert (tmp_path / run_id / "frames.csv").exists()


def test_nxstxm_export_is_read_by_mantis_and_valid_for_nexusformat(stored, tmp_path):
    from mantis_xray import file_plugins
    from mantis_xray.analysis import data_stack, data_struct
    from mantis_xray.file_plugins import file_nexus_hdf5

    printing = np.get_printoptions()
    from nexusformat.nexus.validate import validate_application, validate_file

    np.set_printoptions(**printing)  # importing nexusformat changes numpy's print options

    path, uid, live, _ = stored
    with Catalog.embedded(path, read_only=True) as catalog:
        nexus = str(export_nxstxm(catalog, uid, tmp_path / "series.nxs"))
        with pytest.raises(ValueError, match="nxs"):
            export_nxstxm(catalog, uid, tmp_path / "series.h5")  # a name MANTiS would not list
    assert file_plugins.identify(nexus).title == "NXstxm"
    structure = file_nexus_hdf5.GetFileStructure(nexus)
    images = [entry for entry in structure if structure[entry].keys()]
    assert len(images) == len(live.frames)  # one per particle and imaging pass
    assert list(structure)[: len(images)] == images  # the series entry sorts last
    with h5py.File(nexus) as f:
        counts = {entry: f[f"{entry}/data/data"][()] for entry in images}
        times = [(f[f"{e}/start_time"][()], f[f"{e}/end_time"][()]) for e in images]
        series_log = f["series/sample/electrochemistry/voltage/value_log/value"]
        assert series_log.shape == live.electrochemistry()["index"].shape
        pass_log = f[f"{images[0]}/sample/electrochemistry/current/value_log/value"][()]
        assert pass_log.size > 0 and np.allclose(pass_log, 4e-6)
    assert len(set(times)) == len(times) and all(start < end for start, end in times)
    with h5py.File(nexus) as f:  # each pass's analysis, as the live monitor had it
        by_key = {(r.particle_id, r.frame_index): r for r in live.frames}
        starts = {}
        for entry in images:
            title = f[f"{entry}/title"][()].decode()
            particle, frame = map(int, re.findall(r"particle_(\d+) frame (\d+)", title)[0])
            start = datetime.fromisoformat(f[f"{entry}/start_time"][()].decode())
            starts.setdefault(particle, []).append(start)
            record = by_key[(particle, frame)]
            maps = f[f"{entry}/analysis/li_fraction"]
            assert maps.attrs["NX_class"] == "NXdata" and maps.attrs["signal"] == "li_fraction"
            np.testing.assert_array_equal(maps["li_fraction"][()], record.li_map)
            assert maps["sample_x"].shape == (record.li_map.shape[1],)
            if record.particle is not None and record.particle.j_ch is not None:
                channels = f[f"{entry}/analysis/channels"]
                np.testing.assert_allclose(channels["j_ch"][()], record.particle.j_ch)
                assert channels["j_ch"].attrs["units"] == "mA/cm2"
    for particle_starts in starts.values():  # on the beamline clock: a simulated minute apart
        gaps = np.diff(sorted(particle_starts))
        assert min(g.total_seconds() for g in gaps) >= 55.0
    for k, entry in enumerate(images):
        stack = data_stack.data(data_struct.h5())
        file_plugins.load(nexus, stack, selection=[(k, 0, 1)])  # normalised by "control"
        assert list(stack.ev) == pytest.approx([708.2, 710.2])
        assert stack.absdata.shape == (34, 22, 2)  # (x, y, energy), as MANTiS holds stacks
        assert np.allclose(stack.absdata, counts[entry].transpose(2, 1, 0))  # constant I0
        assert np.allclose(stack.data_dwell, 0.5e-3)
        assert validate_application(nexus, path=entry) == (0, 0)  # (warnings, errors)
    assert validate_file(nexus) == (0, 0)


def test_csv_export(stored, tmp_path):
    path, uid, live, _ = stored
    with Catalog.embedded(path) as catalog:
        ec_path, frames_path, channels_path, maps_path = export_csv(catalog, uid, tmp_path)
    ec_rows = list(csv.DictReader(open(ec_path)))
    assert len(ec_rows) == len(live.electrochemistry()["index"])
    assert float(ec_rows[10]["current_A"]) == pytest.approx(4e-6)
    assert [int(r["index"]) for r in ec_rows[:3]] == [
        int(i) for i in live.electrochemistry()["index"][:3]
    ]
    steps = {int(r["step"]) for r in ec_rows}  # integers, numbered from 1 as the monitor does
    assert min(steps) == 1 and max(steps) == len(live.progress.protocol)
    frames = list(csv.DictReader(open(frames_path)))
    assert len(frames) == len(live.frames)
    channels = list(csv.DictReader(open(channels_path)))
    expected_channels = [r for f in live.frames for r in f.channel_rows()]
    assert len(channels) == len(expected_channels) > 0
    assert sorted(float(r["j_ch_mA_cm2"]) for r in channels) == pytest.approx(
        sorted(r["j_ch_mA_cm2"] for r in expected_channels)
    )
    pixels = list(csv.DictReader(open(maps_path)))
    assert len(pixels) == sum(int(np.isfinite(f.li_map).sum()) for f in live.frames)
    first = live.frames[0]
    pixel = next(
        p
        for p in pixels
        if (int(p["frame_index"]), int(p["particle_id"])) == (first.frame_index, first.particle_id)
    )
    assert float(pixel["li_fraction"]) == pytest.approx(
        first.li_map[int(pixel["row"]), int(pixel["column"])]
    )
    assert {row["direction"] for row in frames} == {"lithiation", "rest", "delithiation"}
    for row in frames:  # the cell then: the frame's own voltage, and the log's current
        assert 2.0 < float(row["voltage_V"]) < 4.5
        expected = {"lithiation": 4e-6, "rest": 0.0, "delithiation": -4e-6}[row["direction"]]
        if row["direction"] != "rest":
            assert float(row["current_A"]) == pytest.approx(expected, rel=0.05)
        assert int(row["step"]) in steps


def test_the_export_command_says_what_it_does_and_writes_what_it_names(stored, tmp_path, capsys):
    path, uid, _, _ = stored
    tables = tmp_path / "tables"
    assert cli_main(["export", uid[:8], "--csv", str(tables), "--catalog", str(path)]) == 0
    first, *written = capsys.readouterr().out.splitlines()
    assert first.startswith(f"exporting run {uid[:8]}")  # before the wait, not after it
    names = [Path(line.removeprefix("wrote ")) for line in written]
    assert [p.name for p in names] == [
        "electrochemistry.csv", "frames.csv", "channels.csv", "li_maps.csv"
    ]  # fmt: skip
    assert all(p.is_file() and p.stat().st_size > 0 for p in names)


def test_an_image_run_exports_and_replays_alone(tmp_path):
    bl = simulated_beamline()
    with Catalog.embedded(tmp_path / "cat") as catalog:
        RE = RunEngine({})
        writer = catalog.writer()
        RE.subscribe(writer)
        (uid,) = RE(two_energy_image(bl, ROIS[0], dwell_ms=0.5))
        writer.flush()
        analysis = OperandoAnalysis()
        replay(catalog, uid, analysis)
        nexus = export_nxstxm(catalog, uid, tmp_path / "image.nxs")
    assert len(analysis.frames) == 1 and analysis.frames[0].particle is not None
    with h5py.File(nexus) as f:
        assert f["entry0001/data/data"].shape == (2, 22, 34)


def measured_counts(documents) -> np.ndarray:
    """Every raster line's counts in the documents (events or event pages), in order."""
    lines = [
        np.asarray(doc["data"]["raster_counts"], dtype=float).reshape(-1)
        for name, doc in documents
        if name in ("event", "event_page") and "raster_counts" in doc["data"]
    ]
    return np.concatenate(lines)


def test_lines_past_numpys_summary_threshold_are_stored_as_measured(tmp_path):
    """Lines of more than 1000 points reach the documents as numpy arrays (a list's repr,
    which every schema check takes, would spell out each point): the catalog and the
    journal give back every count as it was measured."""
    roi = ParticleROI(0, -0.9, 0.2, 1024, 2)
    live = []
    with Catalog.embedded(tmp_path / "cat") as catalog:
        RE = RunEngine({})
        writer = catalog.writer()
        RE.subscribe(writer)
        RE.subscribe(lambda name, doc: live.append((name, doc)))
        (uid,) = RE(two_energy_image(simulated_beamline(), roi, dwell_ms=0.05, step_nm=20.0))
        writer.flush()
        stored = measured_counts(catalog.documents(uid))
        journaled = measured_counts(read_journal(catalog.journal_path(uid)))
    pages = [doc for name, doc in live if name == "event_page" and "raster_counts" in doc["data"]]
    assert all(isinstance(line, np.ndarray) for p in pages for line in p["data"]["raster_counts"])
    counts = measured_counts(live)
    assert counts.size == 2 * 2 * 1024 and counts.std() > 0
    np.testing.assert_array_equal(stored, counts)
    np.testing.assert_array_equal(journaled, counts)


CRASHING_RUN = textwrap.dedent("""
    import os, sys
    from bluesky import RunEngine
    from stxm_operando.devices import simulated_beamline
    from stxm_operando.plans import Galvanostatic, ParticleROI, operando
    from stxm_operando.storage import Catalog

    catalog = Catalog.embedded(sys.argv[1])
    RE = RunEngine({})
    RE.subscribe(catalog.writer())
    images = []

    def crash(name, doc):
        if name == "event_page" and 21 in doc["data"].get("raster_row", []):  # last line
            images.append(doc)
            if len(images) == 6:
                os._exit(3)  # the process dies mid-run: no stop document, no cleanup

    RE.subscribe(crash)
    RE(operando(simulated_beamline(), [Galvanostatic(c_rate=4.0, duration_s=600.0)],
                [ParticleROI(0, -0.9, 0.2, 34, 22)], every_s=60.0, dwell_ms=0.5))
""")


READINGS_BEFORE_CRASH = 80
"""Electrochemistry up to the crash: one reading a second over the ~2 simulated minutes of the
six images, less those not yet collected when the process died."""


def readings(documents) -> int:
    """How many electrochemistry readings the documents hold (as events or event pages)."""
    return sum(
        len(doc["data"]["ec_index"])
        for name, doc in documents
        if name == "event_page" and "ec_index" in doc["data"]
    )


def test_a_run_cut_off_by_a_crash_is_readable_and_replayable(tmp_path):
    path = tmp_path / "cat"
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(path)], timeout=300, capture_output=True, text=True
    )
    assert result.returncode == 3, result.stderr[-2000:]
    with Catalog.embedded(path) as catalog:
        (uid,) = catalog.search(plan_name="operando")
        assert catalog.run(uid).metadata.get("stop") is None
        documents = list(catalog.documents(uid))
        names = [n for n, _ in documents]
        assert names[0] == "start" and "stop" not in names
        assert readings(documents) > READINGS_BEFORE_CRASH
        for name, doc in documents:
            validate(name, doc)
        analysis = OperandoAnalysis()
        replay(catalog, uid, analysis)
    assert len(analysis.frames) == 3  # six images = three two-energy frames, all analysed
    journals = list((path / "journal").glob("*.jsonl"))
    assert any(readings(list(read_journal(j))) > READINGS_BEFORE_CRASH for j in journals)


def test_the_journal_keeps_images_as_binary_and_survives_a_torn_array(tmp_path):
    """Images go to the journal's binary companion, not into JSON lists: they read back with
    their dtype, shape and values, the JSON lines stay small, and an array cut off by a crash
    loses only its own document."""
    from bluesky.plans import count
    from ophyd.sim import SynSignal

    rng = np.random.default_rng(5)
    camera = SynSignal(func=lambda: rng.poisson(1000, (128, 96)), name="camera")
    documents = []
    with Catalog.embedded(tmp_path / "catalog") as catalog:
        writer = catalog.writer()
        RE = RunEngine({}, context_managers=[])
        RE.subscribe(writer)
        RE.subscribe(lambda name, doc: documents.append((name, doc)))
        (uid,) = RE(count([camera], num=3))
        writer.flush()
    images = [doc["data"]["camera"] for name, doc in documents if name == "event"]
    # the signal's configuration holds a value too: the descriptor carries a fourth image
    (in_descriptor,) = [
        doc["configuration"]["camera"]["data"]["camera"]
        for name, doc in documents
        if name == "descriptor"
    ]
    journal = tmp_path / "catalog" / "journal" / f"{uid}.jsonl"
    stored = [d["data"]["camera"] for n, d in read_journal(journal) if n == "event"]
    assert len(stored) == 3
    for image, back in zip(images, stored, strict=True):
        assert back.dtype == image.dtype and np.array_equal(back, image)
    image_bytes = sum(i.nbytes for i in images) + in_descriptor.nbytes
    assert journal.with_suffix(".arrays").stat().st_size == image_bytes
    assert journal.stat().st_size < 0.05 * image_bytes  # as JSON lists: ~0.6 of it
    with open(journal.with_suffix(".arrays"), "r+b") as arrays:
        arrays.truncate(image_bytes - 10)  # the last image torn by a crash
    with pytest.warns(RuntimeWarning, match="not in"):
        names = [n for n, _ in read_journal(journal)]
    assert names.count("event") == 2 and names[0] == "start" and names[-1] == "stop"


@pytest.mark.parametrize("width", [300, 1200])
def test_a_pages_lines_go_to_the_journal_as_one_binary_array(tmp_path, width):
    """A raster's lines reach the journal as an event page of per-line lists (numpy arrays
    for lines past numpy's summary threshold, here every other one a strided view): each such
    column is written as one binary array and reads back with every line's values; other
    columns stay JSON."""
    from stxm_operando.storage.journal import RunJournal

    rng = np.random.default_rng(2)
    lines = [rng.poisson(800, (width, 2)).astype(float)[:, k % 2] for k in range(40)]
    lines = [line.tolist() for line in lines] if width < 1000 else lines
    page = {
        "descriptor": "d",
        "uid": [f"u{k}" for k in range(40)],
        "seq_num": list(range(1, 41)),
        "time": [1.0] * 40,
        "data": {"raster_counts": lines, "raster_row": list(range(40)), "mode": ["a"] * 40},
        "timestamps": {"raster_counts": [1.0] * 40, "raster_row": [1.0] * 40, "mode": [1.0] * 40},
    }
    journal = RunJournal(tmp_path / "run.jsonl")
    journal.write("event_page", page)
    journal.close()
    assert (tmp_path / "run.arrays").stat().st_size == 40 * width * 8
    ((name, back),) = list(read_journal(tmp_path / "run.jsonl"))
    assert name == "event_page" and np.array_equal(back["data"]["raster_counts"], lines)
    assert back["data"]["raster_row"] == list(range(40)) and back["data"]["mode"] == ["a"] * 40
    assert (tmp_path / "run.jsonl").stat().st_size < 0.1 * 40 * width * 8


def test_unwritable_catalog_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(CatalogError, match="not writable"):
        Catalog.embedded(blocker / "catalog")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVER_KEY = "s3cretKey42"


def serve_catalog(path, *options):
    """``stxm-operando catalog-server`` on loopback; returns (process, URI, API key), the
    key as the server printed it when none was given."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stxm_operando.cli",
            "catalog-server",
            "--path",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    uri = f"http://127.0.0.1:{port}"
    assert uri in server.stdout.readline()  # it says where it serves
    key = SERVER_KEY if "--api-key" in options else server.stdout.readline().split()[3]
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, server.stdout.read()[-2000:]
        try:
            Catalog.remote(uri, api_key=key).close()
            return server, uri, key
        except CatalogError:
            assert time.monotonic() < deadline, "the tiled server did not come up"
            time.sleep(0.5)


def stop_server(server) -> None:
    server.terminate()
    server.wait(timeout=30)
    assert server.poll() is not None


@pytest.fixture
def tiled_server(tmp_path):
    """A catalog server with an API key; yields its URI."""
    server, uri, _ = serve_catalog(tmp_path / "served", "--api-key", SERVER_KEY)
    yield uri
    stop_server(server)


def test_same_code_writes_to_a_tiled_server(tiled_server, tmp_path):
    catalog = Catalog.remote(tiled_server, api_key=SERVER_KEY, journal_dir=tmp_path / "journal")
    with pytest.raises(CatalogError):
        Catalog.remote(tiled_server, api_key="wrongKey")
    with pytest.raises(CatalogError, match="needs an API key: set TILED_API_KEY"):
        Catalog.remote(tiled_server)  # a user without the key is told which variable
    bl = simulated_beamline()
    RE = RunEngine({})
    writer = catalog.writer()
    RE.subscribe(writer)
    (uid,) = RE(two_energy_image(bl, ROIS[1], dwell_ms=0.5, md={"sample": "remote"}))
    writer.flush()
    assert catalog.search(sample="remote") == [uid]
    analysis = OperandoAnalysis()
    replay(catalog, uid, analysis, validate)
    assert len(analysis.frames) == 1
    assert analysis.frames[0].analysis.x.shape == (22, 34)
    assert (tmp_path / "journal" / f"{uid}.jsonl").exists()
    catalog.close()


def test_a_crash_while_writing_to_a_tiled_server_keeps_the_run_on_this_machine(tiled_server):
    crashing = CRASHING_RUN.replace(
        "Catalog.embedded(sys.argv[1])", f"Catalog.remote(sys.argv[1], api_key={SERVER_KEY!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", crashing, tiled_server], timeout=300, capture_output=True, text=True
    )
    assert result.returncode == 3, result.stderr[-2000:]
    catalog = Catalog.remote(tiled_server, api_key=SERVER_KEY)  # the default journal folder
    (uid,) = catalog.search(plan_name="operando")
    assert catalog.run(uid).metadata.get("stop") is None
    documents = list(catalog.documents(uid))
    assert documents[0][0] == "start" and readings(documents) > READINGS_BEFORE_CRASH
    analysis = OperandoAnalysis()
    replay(catalog, uid, analysis)
    assert len(analysis.frames) == 3  # the six images before the crash, from the journal
    catalog.close()


def test_a_catalog_server_off_loopback_needs_an_api_key(tmp_path):
    env = dict(os.environ)
    env.pop("TILED_API_KEY", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stxm_operando.cli",
            "catalog-server",
            "--path",
            str(tmp_path),
            "--host",
            "0.0.0.0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "needs an API key" in result.stderr


def test_a_copied_catalog_is_read_where_it_is_now_and_written_after_relocating(stored, tmp_path):
    from stxm_operando.storage.catalog_dir import DATABASE, stored_roots

    original, uid, *_ = stored
    copy = tmp_path / "on-the-analysis-machine"
    shutil.copytree(original, copy)
    moved_away = tmp_path / "gone"
    shutil.move(original, moved_away)  # nothing is left where the catalog was written
    try:
        before = (copy / DATABASE).read_bytes()
        with Catalog.embedded(copy, read_only=True) as catalog:
            analysis = OperandoAnalysis()
            replay(catalog, uid, analysis)
        assert len(analysis.frames) > 0
        assert (copy / DATABASE).read_bytes() == before  # reading wrote nothing there
        with Catalog.embedded(copy) as catalog:  # opening to write relocates in place
            assert len(list(catalog.documents(uid))) > 0
        assert stored_roots(copy / DATABASE) == {str(copy.resolve()).lstrip("/")}
    finally:
        shutil.move(moved_away, original)


def test_a_new_catalog_is_one_that_tileds_own_command_finds_initialised(tmp_path):
    """The database is set up in this process, not by ``tiled catalog init``: tiled's own
    command must then find its tables and schema revision in place (without
    --if-not-exists it refuses a database that is already initialised)."""
    Catalog.embedded(tmp_path).close()
    result = subprocess.run(
        [sys.executable, "-m", "tiled", "catalog", "init", str(tmp_path / "catalog.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "is already initialized" in result.stderr, result.stderr
    with Catalog.embedded(tmp_path, read_only=True) as catalog:
        assert catalog.count() == 0


def test_readers_never_create_a_catalog_and_writers_never_race_on_the_probe(tmp_path):
    from stxm_operando.storage.catalog_dir import check_writable

    empty = tmp_path / "not-a-catalog"
    empty.mkdir()
    with pytest.raises(CatalogError, match="no catalog"):
        Catalog.embedded(empty, read_only=True)
    assert list(empty.iterdir()) == []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stxm_operando.cli",
            "replay",
            "abcdef",
            "--print",
            "--catalog",
            str(empty),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "no catalog" in result.stderr
    assert "Traceback" not in result.stderr and list(empty.iterdir()) == []
    errors = []

    def probe():
        try:
            check_writable(tmp_path / "shared")
        except CatalogError as err:
            errors.append(err)

    threads = [threading.Thread(target=probe) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and list((tmp_path / "shared").iterdir()) == []


def test_an_export_that_cannot_be_written_leaves_no_partial_file(stored, tmp_path, capsys):
    path, uid, *_ = stored
    target = tmp_path / "taken.nxs"
    target.mkdir()  # a directory already has the name
    with Catalog.embedded(path, read_only=True) as catalog, pytest.raises(OSError):
        export_nxstxm(catalog, uid, target)
    assert [p.name for p in tmp_path.iterdir()] == ["taken.nxs"]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    command = ["export", uid, "--catalog", str(path), "--nxstxm", str(blocker / "series.nxs")]
    assert cli_main(command) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "taken.nxs"]


def test_damaged_data_files_are_one_clear_line(stored, tmp_path, capsys):
    path, uid, *_ = stored
    copy = tmp_path / "damaged"
    shutil.copytree(path, copy)
    chunks = [p for p in (copy / "data").rglob("*") if p.is_file() and p.stat().st_size > 100]
    for chunk in chunks:
        chunk.write_bytes(b"\\x00garbage" * 20)
    (copy / "tables.db").write_bytes(b"not sqlite" * 100)
    (copy / "journal").rename(tmp_path / "journal-elsewhere")  # no journal to fall back on
    assert cli_main(["replay", uid, "--print", "--catalog", str(copy)]) == 2
    errors = capsys.readouterr().err
    assert "cannot be read" in errors and "Traceback" not in errors, errors[-2000:]


def postgres_bin(name: str) -> str:
    """A PostgreSQL server program: on the PATH or where Debian's package puts it."""
    found = shutil.which(name) or next(
        iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    assert found, f"PostgreSQL's {name} is not installed (scripts/ensure-system-libs.sh)"
    return str(found)


@pytest.fixture
def postgresql():
    """A PostgreSQL server in a temporary data directory on 127.0.0.1; yields its catalog
    database URI and stops the server at the end."""

    def as_postgres(*command):  # the server refuses to run as root
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    data = Path(tempfile.mkdtemp(prefix="stxm-operando-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    quiet = dict(check=True, capture_output=True, timeout=120)
    try:
        subprocess.run(
            as_postgres(
                postgres_bin("initdb"), "-D", str(data / "db"), "-U", "stxm", "--auth=trust"
            ),
            **quiet,
        )
        subprocess.run(
            as_postgres(
                postgres_bin("pg_ctl"),
                "-D",
                str(data / "db"),
                "-w",
                "-l",
                str(data / "log"),
                "-o",
                f"-p {port} -h 127.0.0.1 -k {data}",
                "start",
            ),
            **quiet,
        )
        subprocess.run(
            as_postgres(
                postgres_bin("createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "stxm",
                "catalog",
            ),
            **quiet,
        )
        yield f"postgresql://stxm@127.0.0.1:{port}/catalog"
    finally:
        subprocess.run(
            as_postgres(postgres_bin("pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop"),
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(data, ignore_errors=True)


def test_a_postgresql_catalog_server_stores_and_replays_an_operando_run(postgresql, tmp_path):
    server, uri, key = serve_catalog(tmp_path / "arrays", "--database", postgresql)
    try:
        catalog = Catalog.remote(uri, api_key=key, journal_dir=tmp_path / "journal")
        RE = RunEngine({}, call_returns_result=True)
        writer = catalog.writer()
        RE.subscribe(writer)
        steps = [Galvanostatic(c_rate=4.0, duration_s=120.0)]
        result = RE(
            operando(
                simulated_beamline(),
                steps,
                [ROIS[0]],
                every_s=60.0,
                dwell_ms=0.5,
                sample="pg",
            )
        )
        writer.flush()
        uid = result.run_start_uids[0]  # the operando run; its image runs follow
        assert catalog.search(sample="pg", plan_name="operando") == [uid]
        analysis = OperandoAnalysis()
        replay(catalog, uid, analysis, validate)
        assert len(analysis.frames) == 2  # two imaging passes of one particle
        catalog.close()
    finally:
        stop_server(server)
    assert not (tmp_path / "arrays" / "catalog.db").exists()  # the SQL catalog is PostgreSQL


def test_a_cut_off_run_without_its_journal_is_read_as_far_as_the_catalog_has_it(tmp_path):
    """A writer killed mid-run, its journal lost (another machine, a cleaned disk): the
    catalog still holds the batches it took. Replay and export read them, image events of
    the lines stored included, instead of failing on the stop tiled keeps empty."""
    from stxm_operando.live_callbacks import assembled

    documents = []
    RE = RunEngine({})
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    RE(two_energy_image(simulated_beamline(), ParticleROI(0, -0.9, 0.2, 20, 14), dwell_ms=0.2))
    path = tmp_path / "catalog"
    with Catalog.embedded(path) as catalog:
        writer = catalog.writer(batch_size=10)  # the lines reach tiled ten at a time
        for name, doc in documents:
            if name != "stop":  # killed before the end
                writer(name, doc)
        writer.flush()
        uid = documents[0][1]["uid"]
        catalog.journal_path(uid).unlink()
    with Catalog.embedded(path) as catalog:
        read = list(catalog.documents(uid))
    names = [name for name, _ in read]
    assert names[0] == "start" and "stop" not in names
    lines = [d for n, d in read if n == "event" and "raster_row" in d["data"]]
    assert len(lines) >= 20  # at least two of the 28 lines' batches of ten
    images = [d for n, d in assembled(read) if n == "event" and "raster_image" in d["data"]]
    assert images and sum(d["data"]["raster_lines"] for d in images) == len(lines)
    out = tmp_path / "csv"
    assert cli_main(["export", uid[:8], "--catalog", str(path), "--csv", str(out)]) == 0
    assert (out / "frames.csv").is_file()
