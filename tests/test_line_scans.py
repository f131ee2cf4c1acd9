"""Rasters flown line by line, on the simulated backend and over Channel Access against the
IOC: one event per line (in event pages), and an image cut short keeps the lines it
finished."""

import threading

import h5py
import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted

from stxm_operando.analysis import place_by_position
from stxm_operando.devices import simulated_beamline
from stxm_operando.export import export_nxstxm
from stxm_operando.live_callbacks.lines import assembled
from stxm_operando.plans import ParticleROI, two_energy_image
from stxm_operando.storage import Catalog

ROI = ParticleROI(0, -0.9, 0.2, 34, 22)
ABORT_AFTER_ROW = 9


@pytest.fixture(params=["sim", "epics"])
def beamline(request):
    return simulated_beamline() if request.param == "sim" else request.getfixturevalue("epics")


def test_an_image_aborted_mid_way_keeps_its_finished_lines(beamline, tmp_path):
    """Abort during the first image, whose lines would all go into one event page: every
    line flown is in the catalog (collected by the RunEngine's backstop), the image put
    together from them has those lines where they were measured and NaN for the rest, and
    it exports to NXstxm at its full size."""
    RE = RunEngine({}, context_managers=[])
    asked = []

    def pause_mid_image(value, **_):
        if value == ABORT_AFTER_ROW and not asked:
            asked.append(value)
            threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()

    watching = beamline.raster.row.subscribe(pause_mid_image, run=False)
    with Catalog.embedded(tmp_path / "catalog") as catalog:
        writer = catalog.writer()
        RE.subscribe(writer)
        with pytest.raises(RunEngineInterrupted):
            RE(two_energy_image(beamline, ROI, dwell_ms=0.5))
        RE.abort("operator abort")
        beamline.raster.row.unsubscribe(watching)
        writer.flush()
        (uid,) = catalog.search(plan_name="two_energy_image")
        documents = list(catalog.documents(uid))
        assert documents[-1][1]["exit_status"] == "abort"
        lines = [
            d["data"]
            for n, d in assembled(documents)
            if n == "event" and "raster_counts" in d["data"]
        ]
        flown = [line["raster_row"] for line in lines]
        assert flown == list(range(len(flown)))  # in order, none lost
        assert ABORT_AFTER_ROW <= len(flown) < ROI.num_y  # cut short, not finished
        (image,) = [
            d["data"]
            for n, d in assembled(documents)
            if n == "event" and "raster_image" in d["data"]
        ]
        assert not image["raster_complete"] and image["raster_lines"] == len(flown)
        counts = np.asarray(image["raster_image"], dtype=float)
        assert counts.shape == (ROI.num_y, ROI.num_x)
        for line in lines:
            assert np.array_equal(counts[line["raster_row"]], line["raster_counts"])
        assert np.isnan(counts[len(flown) :]).all()
        line_ys = np.mean(image["raster_y_positions"], axis=1)  # each row flown where it says
        assert np.allclose(np.diff(line_ys), 0.04, atol=0.005)
        placed = place_by_position(
            counts, image["raster_x_positions"], image["raster_y_positions"], 40.0
        )
        assert placed.shape == (ROI.num_y, ROI.num_x)  # on the written grid
        path = export_nxstxm(catalog, uid, tmp_path / "aborted.nxs")
    with h5py.File(path) as nxfile:
        data = nxfile["entry0001/data/data"][()]
        assert data.shape == (1, ROI.num_y, ROI.num_x)
        assert np.isfinite(data[0, : len(flown)]).all() and np.isnan(data[0, len(flown) :]).all()
