"""Ophyd devices on the simulated backend, driven by bluesky's RunEngine."""

import bluesky.plan_stubs as bps
import bluesky.plans as bp
import numpy as np
import pytest
from bluesky import RunEngine
from ophyd.utils import LimitError

from stxm_operando.devices import (
    ComplianceError,
    EpicsClock,
    EpicsPointDetector,
    EpicsPotentiostat,
    EpicsRasterDetector,
    EpicsZonePlateScanner,
    SimClock,
    SimPointDetector,
    SimPotentiostat,
    SimRasterDetector,
    SimZonePlateScanner,
)
from stxm_operando.live_callbacks.lines import assembled


@pytest.fixture
def RE():
    return RunEngine({})


@pytest.mark.parametrize(
    "sim_cls, epics_cls",
    [
        (SimZonePlateScanner, EpicsZonePlateScanner),
        (SimPotentiostat, EpicsPotentiostat),
        (SimRasterDetector, EpicsRasterDetector),
        (SimPointDetector, EpicsPointDetector),
        (SimClock, EpicsClock),
    ],
)
def test_both_backends_share_component_names(sim_cls, epics_cls):
    """Every component of the simulated backend is on the EPICS one with the same kind (the
    EPICS detectors add their records' other fields, not read)."""
    assert set(sim_cls.component_names) <= set(epics_cls.component_names)
    for name in sim_cls.component_names:
        assert getattr(sim_cls, name).kind == getattr(epics_cls, name).kind, name


def test_energy_move_brings_zone_plate_into_focus_with_one_status(sim):
    scanner, world = sim.scanner, sim.world
    status = scanner.set(712.0)
    status.wait(5)
    assert status.success and scanner.energy.position == pytest.approx(712.0)
    assert world.positions["zp_z"] == pytest.approx(world.focus_z_um(712.0))
    assert world.positions["zp_z"] == pytest.approx(scanner.focus_z_um(712.0))


def test_mono_approaches_from_below(sim):
    scanner = sim.scanner
    scanner.set(712.0).wait(5)
    visited = []
    scanner.mono.subscribe(lambda value, **kw: visited.append(value), run=False)
    scanner.set(708.2).wait(5)
    assert min(visited) == pytest.approx(708.2 - sim.config.mono.backlash_eV)
    assert visited[-1] == pytest.approx(708.2)
    visited.clear()
    scanner.set(709.0).wait(5)  # from below: straight there
    assert visited == [pytest.approx(709.0)]


def test_moves_take_simulated_time_not_wall_time(sim):
    t0 = sim.world.clock_s
    sim.scanner.fine_x.set(40.0).wait(1)
    assert sim.world.clock_s - t0 == pytest.approx(40.0 / sim.config.stage.fine_velocity_um_s)
    sim.clock.set(3600.0).wait(1)
    assert sim.clock.time.get() == pytest.approx(t0 + 0.2 + 3600.0)


def test_bad_positions_raise_before_anything_moves(sim):
    world = sim.world
    before, clock = dict(world.positions), world.clock_s
    with pytest.raises(LimitError, match="monochromator range"):
        sim.scanner.set(650.0)
    with pytest.raises(LimitError, match="travel"):
        sim.scanner.fine_y.set(-51.0)
    with pytest.raises(LimitError, match="fine stage travel"):
        sim.raster.configure_raster(45.0, 0.0, 400, 10, 40.0, 1.0)
    with pytest.raises(ValueError, match="dwell must be above 0"):
        sim.raster.configure_raster(0.0, 0.0, 10, 10, 40.0, -1.0)
    assert world.positions == before and world.clock_s == clock


def test_raster_detector_gives_one_event_per_line_with_positions(sim, RE):
    """A scan over the detector's rows is a raster: one event per line, put together by
    ``ImageAssembler`` into the image with every pixel's recorded position."""
    docs = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    sim.raster.configure_raster(-0.9, 0.2, 32, 24, 40.0, 1.0)
    RE(bp.list_scan([sim.raster], sim.raster.row, list(range(24))))
    lines = [d for n, d in docs if n == "event"]
    assert len(lines) == 24
    descriptor = next(d for n, d in docs if n == "descriptor")
    assert descriptor["data_keys"]["raster_counts"]["shape"] == [32]
    (image,) = [
        d["data"] for n, d in assembled(docs) if n == "event" and "raster_image" in d["data"]
    ]
    counts, xs, ys = (image[f"raster_{k}"] for k in ("image", "x_positions", "y_positions"))
    assert np.shape(counts) == np.shape(xs) == (24, 32) and image["raster_complete"]
    assert np.mean(xs) == pytest.approx(-0.9, abs=0.01)
    assert np.mean(ys) == pytest.approx(0.2, abs=0.01)
    assert np.all(np.diff(np.mean(ys, axis=1)) > 0.03)  # rows in order, a step apart
    assert np.min(counts) < 0.5 * image["raster_i0"]  # the particle is there
    starts = [e["data"]["raster_start_time"] for e in lines]
    detector, stage = sim.config.detector, sim.config.stage
    fly_back = 31 * 0.04 / stage.fine_velocity_um_s  # last pixel to the next line's first
    per_line = 32 * 1e-3 + detector.line_overhead_ms / 1e3 + fly_back
    assert np.allclose(np.diff(starts), per_line, rtol=1e-3)


def test_scanning_the_scanner_records_zone_plate(sim, RE):
    docs = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    RE(bp.list_scan([sim.point], sim.scanner, [708.2, 710.2]))
    events = [d["data"] for n, d in docs if n == "event"]
    assert [e["scanner_energy"] for e in events] == pytest.approx([708.2, 710.2])
    assert events[1]["scanner_zp_z"] == pytest.approx(sim.scanner.focus_z_um(710.2))


def test_potentiostat_c_rate_and_compliance(sim):
    pstat = sim.potentiostat
    assert pstat.current_for_c_rate(4.0) == pytest.approx(4 * sim.config.potentiostat.capacity_Ah)
    with pytest.raises(ComplianceError, match="compliance"):
        pstat.current_for_c_rate(50.0)
    with pytest.raises(ComplianceError):
        pstat.current_setpoint.put(1e-3)
    assert pstat.current_setpoint.get() == 0.0


def test_galvanostatic_step_runs_and_pause_stop_keeps_current(sim, RE):
    pstat = sim.potentiostat
    RE(
        bps.mv(
            pstat.current_setpoint,
            pstat.current_for_c_rate(2.0),
            pstat.mode,
            "GALVANOSTATIC",
            pstat.output,
            1,
        )
    )
    RE(bps.mv(sim.clock, 120.0))
    assert pstat.current.get() == pytest.approx(2e-6, rel=1e-6)
    pstat.stop()  # what the RunEngine does on pause: the cell keeps running
    assert pstat.output.get() == 1 and pstat.mode.get() == "GALVANOSTATIC"
    pstat.switch_off().wait(1)
    assert pstat.output.get() == 0 and pstat.mode.get() == "OCV"
    sim.clock.set(60.0)
    assert pstat.current.get() == pytest.approx(0.0, abs=1e-12)


def test_potentiostat_log_is_collected_after_a_gap(sim):
    pstat = sim.potentiostat
    pstat.current_setpoint.put(3e-6)
    pstat.mode.put("GALVANOSTATIC")
    pstat.output.put(1)
    sim.clock.set(100.0)
    first = pstat.read_log()
    sim.clock.set(200.0)  # nobody reads meanwhile
    rest = pstat.read_log(since=int(first["index"][-1]) + 1)
    joined = np.concatenate([first["index"], rest["index"]])
    assert np.array_equal(joined, np.arange(len(joined)))  # nothing lost, nothing repeated
    assert rest["time"][-1] == pytest.approx(300.0, abs=6.0)


def test_monitor_of_voltage_streams_while_time_passes(sim, RE):
    docs = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    pstat = sim.potentiostat

    def plan():
        yield from bps.open_run()
        yield from bps.monitor(pstat.voltage, name="electrochemistry")
        yield from bps.mv(
            pstat.current_setpoint, 4e-6, pstat.mode, "GALVANOSTATIC", pstat.output, 1
        )
        for _ in range(5):
            yield from bps.mv(sim.clock, 30.0)
        yield from bps.unmonitor(pstat.voltage)
        yield from bps.close_run()

    RE(plan())
    readings = [d["data"]["potentiostat_voltage"] for n, d in docs if n == "event"]
    assert len(readings) >= 5 and len(set(readings)) >= 5
