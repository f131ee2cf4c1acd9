"""A catalog of runs reduced to the cross-run table: every operando run agrees with its own
live analysis and the simulated particle's own truth, a 2-worker dask cluster and a running
scheduler give the same table as this process, the cache analyses only new runs, and runs
that cannot be analysed are listed with the reason."""

import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from qtpy import QtGui

from stxm_operando.analysis.statistics import ACTIVE_RANGE
from stxm_operando.campaign import CHANNEL_COLUMNS, COLUMNS, run_campaign
from stxm_operando.cli import main as cli_main
from stxm_operando.devices import simulated_beamline
from stxm_operando.live_callbacks import OperandoAnalysis
from stxm_operando.paper import model_statistics
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando, two_energy_image
from stxm_operando.sim_campaign import record_simulated_campaign
from stxm_operando.storage import Catalog

COMMAND = [sys.executable, "-m", "stxm_operando.cli", "campaign"]
ON_PARTICLE = ParticleROI(0, -0.9, 0.2, 30, 20)
OFF_PARTICLE = ParticleROI(0, 6.0, 6.0, 12, 10)  # empty liquid: nothing to analyse


@pytest.fixture(scope="module")
def campaign_catalog(tmp_path_factory):
    """The simulated beamtime's 4C and 2C cycles, a 4C lithiation cut short by the operator,
    a run imaging only empty liquid, and a run of another plan; each run's live summary."""
    path = tmp_path_factory.mktemp("campaign") / "catalog"
    live, truth = {}, {}
    with Catalog.embedded(path) as catalog:

        def record(protocol, roi, *, sample, cut_after=None):
            bl, RE = simulated_beamline(), RunEngine({}, context_managers=[])
            writer, analysis = catalog.writer(), OperandoAnalysis()
            RE.subscribe(writer)
            RE.subscribe(analysis)
            tracking, passes = set(), []

            def pause_after_passes(name, doc):  # then aborted: the operator cut it short
                if name == "descriptor" and doc["name"] == "tracking":
                    tracking.add(doc["uid"])  # one tracking event per imaging pass
                elif name == "event" and doc["descriptor"] in tracking:
                    passes.append(doc)
                    if len(passes) == cut_after:
                        threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()

            RE.subscribe(pause_after_passes)
            try:
                RE(operando(bl, protocol, [roi], every_s=60.0, dwell_ms=0.5), sample=sample)
            except RunEngineInterrupted:
                RE.abort("cut short by the operator")
            writer.flush()
            (uid,) = [u for u in catalog.search(plan_name="operando") if u not in live]
            live[uid] = analysis.summary(0.5)
            return uid

        cycles = {}
        fast, slow = record_simulated_campaign(
            catalog, (4.0, 2.0), live=cycles, truth=truth, every_s=120.0
        )
        live.update({uid: analysis.summary(0.5) for uid, analysis in cycles.items()})
        lithiation = [Galvanostatic(c_rate=4.0, until_V=3.0, duration_s=900.0)]
        cut = record(lithiation, ON_PARTICLE, sample="LFP-A", cut_after=3)
        empty = record([Rest(120.0)], OFF_PARTICLE, sample="LFP-A")
        bl, RE = simulated_beamline(), RunEngine({}, context_managers=[])
        writer = catalog.writer()
        RE.subscribe(writer)
        RE(two_energy_image(bl, ON_PARTICLE, dwell_ms=0.5))
        writer.flush()
    uids = {"fast": fast, "slow": slow, "cut": cut, "empty": empty}
    return path, live, uids, truth


@pytest.fixture(scope="module")
def campaign_here(campaign_catalog, tmp_path_factory):
    """The whole catalog's campaign, analysed in this process, and its folder."""
    output = tmp_path_factory.mktemp("campaign-output")
    return run_campaign(str(campaign_catalog[0]), output, workers=0, progress=False), output


def test_every_operando_run_agrees_with_its_live_analysis(campaign_catalog, campaign_here):
    path, live, uids, _ = campaign_catalog
    campaign, tmp_path = campaign_here
    assert {row["uid"] for row in campaign.rows} == {uids["fast"], uids["slow"], uids["cut"]}
    for row in campaign.rows:
        (expected,) = [
            r
            for r in live[row["uid"]]
            if (r.particle_id, r.direction) == (row["particle_id"], row["direction"])
        ]
        for ours, theirs in (
            (row["x_surf"], expected.mean_surface),
            (row["x_internal"], expected.mean_internal),
            (row["soc"], expected.mean_fraction),
            (row["active_fraction"], expected.active_fraction),
        ):
            assert ours == pytest.approx(theirs, abs=1e-9)  # the same pipeline, documents
        assert (row["overpotential_V"] < 0) == (row["direction"] == "lithiation")
    x_surf = {
        (r["direction"], abs(r["c_rate"])): r["x_surf"]
        for r in campaign.rows
        if r["uid"] != uids["cut"]
    }
    # the paper's Fig. 5b: a Li-rich surface on lithiation, a Li-poor one on delithiation
    assert min(x_surf["lithiation", r] for r in (2.0, 4.0)) > 0.55
    assert max(x_surf["delithiation", r] for r in (2.0, 4.0)) < 0.45
    statuses = {row["uid"]: row["exit_status"] for row in campaign.rows}
    assert statuses[uids["fast"]] == "success" and statuses[uids["cut"]] == "abort"
    fast, slow = (
        next(r for r in campaign.rows if r["uid"] == uids[k] and r["direction"] == "lithiation")
        for k in ("fast", "slow")
    )
    assert fast["c_rate"] == 4.0 and slow["c_rate"] == 2.0
    assert fast["overpotential_V"] < slow["overpotential_V"]  # Fig. 1c: more at a faster rate
    assert campaign.failures == [
        (uids["empty"], "no lithiation or delithiation frame with a particle")
    ]
    with (tmp_path / "campaign.csv").open() as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == COLUMNS and len(table) == len(campaign.rows)
    with (tmp_path / "failures.csv").open() as f:
        assert [row["uid"] for row in csv.DictReader(f)] == [uids["empty"]]
    with (tmp_path / "channels.csv").open() as f:
        channels = list(csv.DictReader(f))
    assert tuple(channels[0]) == CHANNEL_COLUMNS
    assert {c["uid"] for c in channels} == {row["uid"] for row in campaign.rows}
    j_ch = np.array([float(c["j_ch_mA_cm2"]) for c in channels])
    x_surf = np.array([float(c["x_surf"]) for c in channels])
    assert np.all(np.isfinite(j_ch)) and np.mean(j_ch) > 0  # lithiation: positive j_Ch
    assert np.all((x_surf >= 0) & (x_surf <= 1))
    assert all(0 <= row["drift_px"] < 10 for row in campaign.rows)  # the simulated drift
    assert {tmp_path / "campaign.png", tmp_path / "campaign.pdf"} <= set(campaign.files)
    figure = QtGui.QImage(str(tmp_path / "campaign.png"))
    assert (figure.width(), figure.height()) == (1700, 1000)  # the panels over the Li maps
    assert (tmp_path / "campaign.pdf").read_bytes()[:5] == b"%PDF-"
    parquet = pq.read_table(tmp_path / "channels.parquet")
    assert tuple(parquet.column_names) == CHANNEL_COLUMNS and parquet.num_rows == len(channels)
    assert parquet.column("x_surf").to_pylist() == pytest.approx(x_surf.tolist(), abs=1e-5)
    again = run_campaign(str(path), tmp_path, workers=0, progress=False)
    assert again.analysed == 0 and again.rows == campaign.rows  # all from the cache


def test_the_simulated_campaign_recovers_the_simulated_particles_own_truth(
    campaign_catalog, campaign_here
):
    """Each cycle's row against the simulated particle's own Li fraction grid at the row's
    frame (``paper.model_statistics``, the statistics ``stxm-operando paper`` draws): the
    image is a 15-degree-rotated, probe-blurred, counting-noise view of that grid."""
    _, _, uids, truth = campaign_catalog
    campaign, _ = campaign_here
    low, high = ACTIVE_RANGE
    true_surface = {}
    for row in (r for r in campaign.rows if r["uid"] in (uids["fast"], uids["slow"])):
        time_s, grid = min(truth[row["uid"]], key=lambda s: abs(s[0] - row["time_s"]))
        assert abs(time_s - row["time_s"]) < 1.0  # the grid as the image's last line saw it
        model = model_statistics(grid, row["direction"])
        true_surface[row["direction"], abs(row["c_rate"])] = model.mean_surface
        # 0.02: about the counting noise of one end pixel (0.015-0.023 at 0.5 ms), which
        # the means over ~50 end pixels and ~200 interior pixels are well inside of; and the
        # image's pixels around the (010) faces (partly covered, on a grid 15 degrees to the
        # particle's, under a probe of sigma ~13 nm) read the surface's composition, which
        # moves up to 0.15 of the surface's contrast with the interior between the means
        blur = 0.15 * abs(model.mean_surface - model.mean_internal)
        assert row["soc"] == pytest.approx(grid.mean(), abs=0.02 + blur)
        assert row["x_surf"] == pytest.approx(model.mean_surface, abs=0.02 + blur)
        assert row["x_internal"] == pytest.approx(model.mean_internal, abs=0.02 + blur)
        # surface cells within 0.15 of a threshold (2.7 sigma of a half-covered end
        # pixel's noise, 0.056 against tests/forward_model.py) may be classed wrongly, and
        # six of the ~50 end pixels besides: an image pixel that a face 15 degrees to the
        # grid leaves mostly uncovered sees mostly the 13 nm surface layer, transformed at
        # high rate, not the end cell's mean with the bulk behind it
        ends = np.concatenate([grid[0], grid[-1]])
        near = np.mean((np.abs(ends - low) < 0.15) | (np.abs(ends - high) < 0.15))
        allowed = near + 6 / ends.size
        assert abs(row["active_fraction"] - model.active_fraction) <= allowed
        assert abs(row["transformed_fraction"] - model.transformed_fraction) <= allowed
    assert min(true_surface["lithiation", r] for r in (2.0, 4.0)) > 0.55
    assert max(true_surface["delithiation", r] for r in (2.0, 4.0)) < 0.45


def test_a_two_worker_dask_cluster_gives_the_same_table(campaign_catalog, tmp_path):
    path, _, uids, _ = campaign_catalog
    here = run_campaign(str(path), tmp_path / "here", workers=0, sample="LFP-A", progress=False)
    # as a user runs it: the command in a process of its own, its workers processes of theirs
    done = subprocess.run(
        [*COMMAND, "--catalog", str(path), "--output", str(tmp_path / "dask"), "--workers", "2",
         "--sample", "LFP-A"],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"},  # as over ssh
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "QStandardPaths" not in done.stderr  # Qt's runtime-folder warning, given its folder
    assert "propagateSizeHints" not in done.stderr  # the offscreen platform's, dropped
    assert "2 analysed now" in done.stdout and "1 runs not analysed" in done.stdout
    assert f"wrote {tmp_path / 'dask' / 'campaign.csv'}" in done.stdout
    assert "runs analysed" in done.stderr  # the progress bar
    with (tmp_path / "dask" / "campaign.csv").open() as f:
        on_dask = list(csv.DictReader(f))
    with (tmp_path / "here" / "campaign.csv").open() as f:
        in_process = list(csv.DictReader(f))
    assert on_dask == in_process and len(on_dask) == len(here.rows) == 1
    assert {row["uid"] for row in on_dask} == {uids["cut"]}


def test_a_running_scheduler_and_its_workers_give_the_same_table(campaign_catalog, tmp_path):
    """A cluster that already runs (as on a beamline's analysis machines): a scheduler and a
    worker started here, on loopback; the campaign only connects to it."""
    path, _, uids, _ = campaign_catalog
    dask = Path(sys.executable).with_name("dask")
    address_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", address_file],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [dask, "worker", "--scheduler-file", address_file, "--host", "127.0.0.1",
         "--nthreads", "1", "--no-nanny", "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        remote = run_campaign(
            str(path), tmp_path / "remote", scheduler=address, sample="LFP-A", progress=False
        )
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)
    here = run_campaign(str(path), tmp_path / "here", workers=0, sample="LFP-A", progress=False)
    assert remote.analysed == 2 and remote.rows == here.rows and len(here.rows) == 1
    assert remote.failures == [
        (uids["empty"], "no lithiation or delithiation frame with a particle")
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--record-simulated", "--rates", "2", "nan"], "C-rates must be positive"),
        (["--record-simulated", "--rates", "-4"], "C-rates must be positive"),
        (["--soc", "1.5"], "soc must be within 0-1"),
    ],
)
def test_bad_campaign_arguments_are_one_clear_line_before_a_catalog_is_made(
    tmp_path, capsys, argv, message
):
    catalog = tmp_path / "catalog"
    code = cli_main(["campaign", "--catalog", str(catalog), "--output", str(tmp_path), *argv])
    error = capsys.readouterr().err
    assert code == 2 and message in error and len(error.strip().splitlines()) == 1
    assert not catalog.exists()
