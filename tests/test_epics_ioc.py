"""The EPICS backend against the caproto IOC, over real Channel Access on 127.0.0.1."""

import time

import numpy as np
import pytest
from caproto.sync.client import write as ca_write
from conftest import unpacked
from ophyd.utils import LimitError

from stxm_operando.config import BeamlineConfig
from stxm_operando.devices import ComplianceError

CONFIG = BeamlineConfig()


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_motor_records_carry_limits_and_units(epics):
    scanner = epics.scanner
    assert scanner.fine_x.limits == CONFIG.stage.fine_travel_um
    assert scanner.mono.limits == CONFIG.mono.energy_limits_eV
    assert scanner.zp_z.limits == CONFIG.zone_plate.z_travel_um
    assert scanner.mono.egu == "eV" and scanner.fine_y.egu == "um"


def test_energy_move_moves_mono_and_zone_plate_with_one_status(epics):
    scanner = epics.scanner
    status = scanner.set(711.0)
    status.wait(15)
    assert status.success
    assert scanner.mono.position == pytest.approx(711.0, abs=1e-3)
    assert scanner.zp_z.position == pytest.approx(scanner.focus_z_um(711.0), abs=1e-3)
    scanner.set(708.2).wait(15)  # from above: via the backlash overshoot
    assert scanner.energy.position == pytest.approx(708.2, abs=1e-3)


def test_out_of_range_is_refused_by_client_and_by_ioc(epics, ioc_process):
    _, prefix = ioc_process
    before = epics.scanner.fine_x.position
    with pytest.raises(LimitError):
        epics.scanner.set(690.0)
    with pytest.raises(LimitError):
        epics.scanner.fine_x.set(75.0)
    with pytest.raises(Exception):  # noqa: B017 - the IOC answers a CA write error
        ca_write(f"{prefix}FineX", 75.0, notify=True, timeout=5, repeater=False)
    assert epics.scanner.fine_x.position == before


def test_raster_lines_over_channel_access_return_counts_and_positions(epics):
    """Each trigger flies one line on the controller's records: ends, points, dwell, arm,
    go; the counts come back with the encoders' positions."""
    raster = epics.raster
    raster.configure_raster(-0.9, 0.2, 32, 24, 40.0, 1.0)
    lines = []
    for row in (0, 12, 23):
        raster.row.put(row)
        raster.trigger().wait(30)
        lines.append(raster.read())
    counts = np.asarray(lines[1]["raster_counts"]["value"])  # through the particle
    xs = np.asarray(lines[1]["raster_x_positions"]["value"])
    assert counts.shape == xs.shape == (32,)
    assert raster.describe()["raster_counts"]["shape"] == [32]
    assert np.mean(xs) == pytest.approx(-0.9, abs=0.01)
    step_um = 0.04
    ys = [np.mean(line["raster_y_positions"]["value"]) for line in lines]
    expected_ys = [0.2 + (row - 11.5) * step_um for row in (0, 12, 23)]
    assert ys == pytest.approx(expected_ys, abs=0.01)
    assert counts.min() < 0.5 * lines[1]["raster_i0"]["value"] < counts.max()
    duration = lines[1]["raster_end_time"]["value"] - lines[1]["raster_start_time"]["value"]
    assert duration == pytest.approx(32 * 1e-3, rel=1e-3)  # the dwells; fly-back is before
    assert raster.state.get() == "Done"
    with pytest.raises(LimitError):
        raster.configure_raster(48.0, 0.0, 200, 10, 40.0, 1.0)


def test_a_line_the_controller_refuses_fails_with_its_message(epics, monkeypatch):
    """The controller's own word reaches the caller: Go without Arm is a Fault, and the
    trigger's status fails saying so."""
    from stxm_operando.devices.detectors import LineScanError

    raster = epics.raster
    raster.configure_raster(0.0, 0.0, 16, 4, 40.0, 0.5)
    raster.row.put(0)
    raster.trigger().wait(30)  # a line flown: the controller is no longer armed
    monkeypatch.setattr(raster.arm, "put", lambda *args, **kwargs: None)
    status = raster.trigger()
    with pytest.raises(LineScanError, match="arm the line first"):
        status.wait(10)
    assert raster.state.get() == "Fault"


def test_point_detector_is_a_scaler_record(epics):
    """ophyd's own EpicsScaler drives the IOC's scaler record: preset time, count with put
    completion, the clock and PMT channels."""
    point = epics.point
    point.dwell.put(2.0)
    assert point.preset_time.get() == pytest.approx(2e-3)
    point.trigger().wait(10)
    counts = point.counts.get()
    assert 0 < counts <= 1.1 * CONFIG.detector.i0_rate_hz * 2e-3
    assert point.channels.chan1.get() == round(2e-3 * point.freq.get())
    assert point.names.name2.get() == "pmt"
    assert list(point.read()) == ["point_counts"]


def test_galvanostatic_step_hits_cutoff_in_the_ioc(epics):
    pstat = epics.potentiostat
    with pytest.raises(ComplianceError):
        pstat.current_for_c_rate(100.0)
    with pytest.raises(LimitError):
        pstat.current_setpoint.put(1e-3)
    pstat.lower_cutoff.put(3.30)  # 10C from empty dips below it within a minute
    pstat.upper_cutoff.put(3.9)
    pstat.current_setpoint.put(pstat.current_for_c_rate(10.0))
    pstat.mode.put("GALVANOSTATIC")
    count_before = pstat.log_count.get()
    pstat.output.put(1)
    assert wait_for(lambda: "lower cutoff" in pstat.trip_reason.get(), timeout=30)
    assert wait_for(lambda: pstat.mode.get() == "OCV" and pstat.output.get() == 0)
    log = pstat.read_log(since=count_before)
    assert len(log["index"]) > 5 and np.array_equal(
        np.diff(log["index"]), np.ones(len(log["index"]) - 1)
    )
    assert log["voltage"].min() <= 3.30 + 0.02 < log["voltage"].max()
    assert log["current"].max() == pytest.approx(1e-5, rel=1e-6)


def test_clock_hold_waits_for_beamline_time(epics):
    start = epics.clock.time.get()
    epics.clock.set(5.0).wait(10)
    assert epics.clock.time.get() >= start + 5.0


def test_a_hold_reports_its_progress_to_blueskys_progress_bar(epics, capsys):
    """The hold's status feeds bluesky's own terminal progress bar as the IOC's clock runs."""
    from bluesky.utils import ProgressBar

    status = epics.clock.set(20.0)  # 0.4 s of wall time at the test IOC's speed
    seen = []
    status.watch(lambda **update: seen.append(update))
    bar = ProgressBar([status], delay_draw=0.0)
    status.wait(10)
    bar.clear()
    elapsed = [update["current"] for update in seen if "current" in update]
    assert {update.get("target") for update in seen} >= {20.0}
    assert elapsed == sorted(elapsed) and 0.0 < elapsed[len(elapsed) // 2] < 20.0
    assert elapsed[-1] == 20.0
    assert f"{epics.clock.name}" in capsys.readouterr().out  # drawn by bluesky's bar


@pytest.mark.parametrize("backend", ["sim", "epics"])
def test_both_backends_refuse_the_same_limits_with_the_same_exception(backend, request):
    """One rule per limit (``stxm_operando.limits``); every refusal is an ophyd LimitError."""
    bl = request.getfixturevalue(backend)
    with pytest.raises(LimitError, match="monochromator range"):
        bl.scanner.set(800.0)
    with pytest.raises(LimitError, match="beyond the fine stage"):
        bl.raster.check_raster(45.0, 0.0, 500, 10, 40.0, 1.0)
    with pytest.raises(LimitError):
        bl.scanner.fine_x.set(1e6)


def test_the_shutter_over_channel_access_gates_each_line_and_reports_the_dose(epics):
    from bluesky import RunEngine

    from stxm_operando.plans import ParticleROI, two_energy_image

    RE = RunEngine({}, context_managers=[])
    documents = []
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    RE(two_energy_image(epics, ParticleROI(3, -0.9, 0.2, 20, 12), dwell_ms=1.0))
    streams = {d["uid"]: d["name"] for n, d in documents if n == "descriptor"}
    lines = [
        e["data"]
        for n, d in documents
        for e in unpacked(n, d)
        if streams[e["descriptor"]] != "dose"
    ]
    (dose,) = [
        d["data"] for n, d in documents if n == "event" and streams[d["descriptor"]] == "dose"
    ]
    assert len(lines) == 2 * 12
    for line in lines:  # each line's own opening is its counting
        counting = line["raster_end_time"] - line["raster_start_time"]
        assert line["shutter_exposure"] == pytest.approx(counting, rel=1e-9)
        assert line["shutter_is_open"] == 0  # closed again when the line is read
    assert epics.shutter.is_open.get() == 0
    counting = sum(i["raster_end_time"] - i["raster_start_time"] for i in lines)
    assert dose["dose_exposure"] == pytest.approx(counting, rel=1e-9)  # dark between lines
    assert dose["dose_photons"] == pytest.approx(dose["dose_exposure"] * 1e7)  # i0 rate
    epics.shutter.set("open").wait(5)
    assert epics.shutter.is_open.get() == 1
    epics.shutter.set("auto").wait(5)
    assert epics.shutter.is_open.get() == 0


def test_readings_taken_during_a_pause_are_kept_when_the_run_is_then_aborted(epics):
    """Paused mid-image with the cell driven, 50 s of beamline time, then aborted: every
    reading the IOC's potentiostat logged until the switch-off is in the run's
    electrochemistry stream (the instrument's own log, read back, is the truth)."""
    import threading

    from bluesky import RunEngine
    from bluesky.utils import RunEngineInterrupted

    from stxm_operando.plans import Galvanostatic, ParticleROI, operando

    roi = ParticleROI(0, -0.9, 0.2, 20, 14)
    RE = RunEngine({}, context_managers=[])
    documents = []
    RE.subscribe(lambda name, doc: documents.append((name, doc)))

    def pause_in_the_second_image(name, doc):
        for line in unpacked(name, doc):
            if "raster_counts" in line["data"] and line["seq_num"] == roi.num_y + 5:
                threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()

    RE.subscribe(pause_in_the_second_image)
    with pytest.raises(RunEngineInterrupted):
        RE(operando(epics, [Galvanostatic(c_rate=2.0, duration_s=600.0)], [roi], dwell_ms=0.2))
    pstat = epics.potentiostat
    assert pstat.output.get() == 1  # paused with the cell driven
    epics.clock.set(50.0).wait(30)  # the step goes on while paused
    RE.abort("the sample moved")
    assert wait_for(lambda: pstat.output.get() == 0)
    streams = {d["uid"]: d["name"] for n, d in documents if n == "descriptor"}
    recorded = sorted(
        {
            int(index)
            for n, d in documents
            if n in ("event", "event_page")
            for event in unpacked(n, d)
            if streams[event["descriptor"]] == "electrochemistry"
            for index in np.atleast_1d(event["data"]["ec_index"])
        }
    )
    logged = pstat.read_log(since=recorded[0])
    driven = logged["index"][logged["current"] != 0]  # up to the switch-off
    assert driven.max() > recorded[0] + 40  # 50 s of readings, one a second
    assert set(driven.astype(int)) <= set(recorded)
