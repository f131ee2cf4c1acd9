"""Bluesky plans on the simulated beamline: imaging, electrochemistry, operando, safety."""

import threading

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from conftest import unpacked

from stxm_operando.config import BeamlineConfig, SimConfig
from stxm_operando.devices import simulated_beamline
from stxm_operando.live_callbacks.lines import assembled
from stxm_operando.plans import (
    Galvanostatic,
    HoldPotential,
    ParticleROI,
    PlanArgumentError,
    Rest,
    electrochemistry,
    find_particles,
    focus_scan,
    galvanostatic,
    hold_potential,
    operando,
    rest,
    stack,
    two_energy_image,
)

ROI = ParticleROI(0, -0.9, 0.2, 34, 22)


class Recorder:
    """Collects (name, doc) pairs and splits them by run and stream."""

    def __init__(self):
        self.docs = []

    def __call__(self, name, doc):
        self.docs.append((name, doc))

    def starts(self, **match):
        return [
            d for n, d in self.docs if n == "start" and all(d.get(k) == v for k, v in match.items())
        ]

    def descriptors(self, stream, run_uid=None):
        return {
            d["uid"]
            for n, d in self.docs
            if n == "descriptor" and d["name"] == stream and run_uid in (None, d["run_start"])
        }

    def events(self, stream, run_uid=None):
        descriptors = self.descriptors(stream, run_uid)
        return [
            event
            for name, doc in self.docs
            for event in unpacked(name, doc)
            if event["descriptor"] in descriptors
        ]

    def images(self, stream, run_uid=None):
        """The stream's images, put together from its line events."""
        descriptors = self.descriptors(stream, run_uid)
        return [
            e
            for n, e in assembled(self.docs)
            if n == "event" and e["descriptor"] in descriptors and "raster_image" in e["data"]
        ]


@pytest.fixture
def RE():
    engine = RunEngine({}, call_returns_result=True)
    engine.recorder = Recorder()
    engine.subscribe(engine.recorder)
    return engine


def request_pause(engine: RunEngine) -> None:
    """Ask for a pause from another thread, as Ctrl-C would (callbacks run on the loop)."""
    threading.Thread(target=engine.request_pause, kwargs={"defer": False}).start()


def cell_is_off(bl) -> bool:
    return bl.potentiostat.output.get() == 0 and bl.potentiostat.mode.get() == "OCV"


# --- imaging ---------------------------------------------------------------------------------
def test_find_particles_locates_the_simulated_particles(sim, RE):
    rois = RE(find_particles(sim, num_x=80, num_y=60)).plan_result
    truth = sorted(tuple(p.center_um) for p in sim.config.sim.particles)
    found = sorted((r.center_x_um, r.center_y_um) for r in rois)
    assert len(rois) == 2
    assert np.allclose(found, truth, atol=0.1)
    for roi in rois:  # each ROI encloses a 1 um long platelet with a margin
        assert roi.num_x * 0.04 > 1.0 and roi.num_y >= 10


def test_two_energy_image_records_a_run_with_searchable_metadata(sim, RE):
    RE(two_energy_image(sim, ROI, dwell_ms=0.5))
    (start,) = RE.recorder.starts(plan_name="two_energy_image")
    assert start["particle_ids"] == [0] and start["energies"] == [708.2, 710.2]
    assert start["pixel_size_nm"] == 40.0
    events = RE.recorder.images("particle_0")
    assert [e["data"]["raster_energy"] for e in events] == pytest.approx([708.2, 710.2])
    assert [e["data"]["scanner_zp_z"] for e in events] == pytest.approx(
        [sim.scanner.focus_z_um(708.2), sim.scanner.focus_z_um(710.2)]
    )
    assert np.shape(events[0]["data"]["raster_image"]) == (22, 34)


def test_stack_takes_one_image_per_energy(sim, RE):
    energies = np.linspace(705.0, 713.0, 5)
    RE(stack(sim, ROI, energies, dwell_ms=0.2))
    events = RE.recorder.images("particle_0")
    assert [e["data"]["raster_energy"] for e in events] == pytest.approx(energies)
    # the particle's absorption follows the Fe L3 edge: higher at the peaks than pre-edge
    particle = [np.asarray(e["data"]["raster_image"])[8:14, 12:22].mean() for e in events]
    assert particle[0] > min(particle)


def test_focus_scan_finds_a_sample_off_the_nominal_plane(RE):
    bl = simulated_beamline(BeamlineConfig(sim=SimConfig(sample_z_offset_um=4.0)))
    best = RE(focus_scan(bl, ROI, np.arange(-8.0, 8.1, 2.0), dwell_ms=0.5)).plan_result
    assert best == pytest.approx(4.0, abs=1.0)  # half a step
    assert bl.scanner.focus_offset.get() == best  # kept as the calibration
    assert bl.scanner.zp_z.position == pytest.approx(bl.scanner.focus_z_um(708.2))


# --- electrochemistry ------------------------------------------------------------------------
def test_galvanostatic_until_cutoff_records_the_log_and_the_reason(sim, RE):
    result = RE(galvanostatic(sim, c_rate=10.0, until_V=3.2, duration_s=3000.0))
    (reason,) = result.plan_result
    assert "lower cutoff 3.200 V" in reason
    samples = RE.recorder.events("electrochemistry")
    indices = [e["data"]["ec_index"] for e in samples]
    assert indices == list(range(indices[0], indices[0] + len(indices)))  # no gaps
    assert min(e["data"]["ec_voltage"] for e in samples) <= 3.2 + 0.01
    milestones = [e["data"] for e in RE.recorder.events("protocol")]
    assert [m["protocol_event"] for m in milestones] == ["start", "end"]
    assert milestones[1]["protocol_reason"] == reason
    assert cell_is_off(sim)


def test_rest_and_hold_potential(sim, RE):
    assert RE(rest(sim, 120.0)).plan_result == ["duration 120 s"]
    result = RE(hold_potential(sim, 3.35, until_current_A=1e-6, duration_s=4000.0))
    assert result.plan_result[0].startswith("current below")
    currents = [e["data"]["ec_current"] for e in RE.recorder.events("electrochemistry")]
    assert max(currents) > 2e-6 and abs(currents[-1]) < 1e-6  # driven, then decayed
    assert cell_is_off(sim)


def test_capacity_limited_step_passes_the_requested_charge(sim, RE):
    RE(galvanostatic(sim, c_rate=2.0, until_capacity=0.25))
    charge = sim.potentiostat.charge.get()
    assert charge == pytest.approx(0.25 * sim.config.potentiostat.capacity_Ah * 3600, rel=0.01)


# --- operando --------------------------------------------------------------------------------
def short_protocol():
    return [Galvanostatic(c_rate=4.0, until_V=3.0, duration_s=300.0), Rest(120.0)]


def test_operando_interleaves_imaging_with_a_running_current(sim, RE):
    rois = [ROI, ParticleROI(1, 1.0, -0.4, 34, 22)]
    result = RE(operando(sim, short_protocol(), rois, every_s=60.0, dwell_ms=0.5))
    assert result.exit_status == "success" and cell_is_off(sim)
    (outer,) = RE.recorder.starts(plan_name="operando")
    image_runs = RE.recorder.starts(plan_name="operando_images")
    assert [r["protocol_step"] for r in image_runs] == [0, 1]
    for run in image_runs:
        assert run["series_id"] == outer["series_id"]
        assert run["particle_ids"] == [0, 1] and run["energies"] == [708.2, 710.2]
    assert image_runs[0]["direction"] == "lithiation" and image_runs[0]["c_rate"] == 4.0
    assert outer["c_rates"] == [4.0] and outer["protocol"][0]["until_V"] == 3.0
    lith_images = RE.recorder.images("particle_0", image_runs[0]["uid"])
    assert len(lith_images) == 2 * 5  # every 60 s for 300 s, two energies
    assert all(e["data"]["potentiostat_current"] == pytest.approx(4e-6) for e in lith_images)
    frames = [e["data"]["frame_index"] for e in lith_images]
    assert frames == sorted(frames) and len(set(frames)) == 5
    samples = RE.recorder.events("electrochemistry")
    indices = [e["data"]["ec_index"] for e in samples]
    assert np.array_equal(np.diff(indices), np.ones(len(indices) - 1))
    times = [e["data"]["ec_time"] for e in samples]
    assert times[-1] - times[0] > 400  # continuous through imaging and rest


def test_operando_validates_everything_before_anything_moves(sim):
    positions, clock = dict(sim.world.positions), sim.world.clock_s
    bad_calls = [
        dict(energies=(708.2, 725.0)),
        dict(particles=[ParticleROI(0, 6000.0, 0.0, 200, 10)]),  # beyond the coarse stage
        dict(particles=[ParticleROI(0, 0.0, 0.0, 3000, 10)]),  # 120 um: beyond the fine
        dict(particles=[ROI, ROI]),
        dict(particles=[]),
        dict(protocol=[Galvanostatic(c_rate=50.0, duration_s=10)]),
        dict(protocol=[Galvanostatic(c_rate=4.0)]),
        dict(protocol=[Galvanostatic(c_rate=4.0, current_A=1e-6, duration_s=5)]),
        dict(protocol=[Galvanostatic(c_rate=4.0, until_V=6.0)]),
        dict(protocol=[Rest(-5.0)]),
        dict(protocol=[HoldPotential(5.5, duration_s=10)]),
        dict(protocol=[HoldPotential(3.3)]),
        dict(protocol=[]),
        dict(protocol=["charge please"]),
        dict(every_s=0.0),
        dict(dwell_ms=float("nan")),
        dict(initial_soc=1.5),
    ]
    for bad in bad_calls:
        kwargs = dict(protocol=short_protocol(), particles=[ROI]) | bad
        with pytest.raises(PlanArgumentError):
            operando(sim, **kwargs)
    assert sim.world.positions == positions and sim.world.clock_s == clock
    assert cell_is_off(sim) and sim.potentiostat.charge.get() == 0.0


@pytest.mark.parametrize(
    "make_plan",
    [
        lambda bl: two_energy_image(bl, ROI, energies=(708.2,)),
        lambda bl: two_energy_image(bl, ParticleROI(0, 0.0, 0.0, 0, 10)),
        lambda bl: stack(bl, ROI, [708.0]),
        lambda bl: focus_scan(bl, ROI, [0.0, 1.0]),
        lambda bl: focus_scan(bl, ROI, [-5000.0, 0.0, 5000.0]),
        lambda bl: find_particles(bl, num_x=3000, num_y=10),
        lambda bl: galvanostatic(bl, c_rate=4.0),
        lambda bl: galvanostatic(bl, current_A=1.0, duration_s=10),
        lambda bl: rest(bl, 0.0),
        lambda bl: hold_potential(bl, 1.0, duration_s=10),
        lambda bl: electrochemistry(bl, []),
    ],
)
def test_bad_plan_arguments_raise_before_anything_moves(sim, make_plan):
    positions, clock = dict(sim.world.positions), sim.world.clock_s
    with pytest.raises(PlanArgumentError):
        make_plan(sim)
    assert sim.world.positions == positions and sim.world.clock_s == clock


def test_a_failing_plan_leaves_the_cell_at_ocv(sim, RE):
    def break_on_third_image(name, doc):
        for event in unpacked(name, doc):
            if "raster_counts" in event["data"] and event["seq_num"] == 3 * ROI.num_y:
                raise RuntimeError("detector readout failed")

    RE.subscribe(break_on_third_image)
    with pytest.raises(RuntimeError, match="readout failed"):
        RE(operando(sim, short_protocol(), [ROI], every_s=30.0, dwell_ms=0.5))
    assert cell_is_off(sim)
    (outer,) = RE.recorder.starts(plan_name="operando")
    stops = [d for n, d in RE.recorder.docs if n == "stop" and d["run_start"] == outer["uid"]]
    assert stops and stops[0]["exit_status"] == "fail"


def test_pause_keeps_the_cell_running_and_abort_switches_it_off(sim, RE):
    def pause_at_third_image(name, doc):
        for event in unpacked(name, doc):
            if "raster_counts" in event["data"] and event["seq_num"] == 3 * ROI.num_y:
                request_pause(RE)

    token = RE.subscribe(pause_at_third_image)
    with pytest.raises(RunEngineInterrupted):
        RE(operando(sim, short_protocol(), [ROI], every_s=30.0, dwell_ms=0.5))
    assert RE.state == "paused"
    assert sim.potentiostat.output.get() == 1  # the RunEngine stopped devices: cell still on
    assert sim.potentiostat.mode.get() == "GALVANOSTATIC"
    RE.unsubscribe(token)
    RE.abort("operator abort")
    assert cell_is_off(sim)


def test_pause_and_resume_duplicate_nothing(sim, RE):
    paused = []

    def pause_once(name, doc):
        for event in unpacked(name, doc):
            if "raster_counts" in event["data"] and not paused:
                paused.append(event["seq_num"])
                request_pause(RE)

    RE.subscribe(pause_once)
    with pytest.raises(RunEngineInterrupted):
        RE(operando(sim, short_protocol(), [ROI], every_s=60.0, dwell_ms=0.5))
    sim.clock.set(30.0)  # time passes while paused; the potentiostat keeps logging
    RE.resume()
    assert cell_is_off(sim)
    samples = RE.recorder.events("electrochemistry")
    indices = [e["data"]["ec_index"] for e in samples]
    assert len(indices) == len(set(indices))
    assert np.array_equal(np.diff(indices), np.ones(len(indices) - 1))
    images = RE.recorder.images("particle_0")
    keys = [(e["data"]["frame_index"], e["data"]["raster_energy"]) for e in images]
    assert len(keys) == len(set(keys)) and all(e["data"]["raster_complete"] for e in images)
    lines = [e["data"] for e in RE.recorder.events("particle_0")]
    keys = [(d["frame_index"], d["raster_energy"], d["raster_row"]) for d in lines]
    assert len(keys) == len(set(keys))


def test_one_ctrl_c_a_deferred_pause_takes_effect_at_the_next_imaging_pass(sim, RE):
    """A deferred pause (IPython's first Ctrl-C) asked for during the first image pauses
    the run before the second pass, not at the protocol's end; the cell keeps its step."""
    asked = []

    def defer_pause_in_first_image(name, doc):
        for event in unpacked(name, doc):
            if "raster_counts" in event["data"] and not asked:
                asked.append(event["data"]["frame_index"])
                threading.Thread(target=RE.request_pause, kwargs={"defer": True}).start()

    token = RE.subscribe(defer_pause_in_first_image)
    with pytest.raises(RunEngineInterrupted):
        RE(operando(sim, short_protocol(), [ROI], every_s=60.0, dwell_ms=0.5))
    assert RE.state == "paused" and asked == [0]
    frames = {e["data"]["frame_index"] for e in RE.recorder.events("particle_0")}
    assert frames == {0}  # paused before the second pass began
    assert sim.potentiostat.output.get() == 1  # the step goes on while paused
    RE.unsubscribe(token)
    RE.resume()
    frames = {e["data"]["frame_index"] for e in RE.recorder.events("particle_0")}
    assert len(frames) >= 5 and cell_is_off(sim)  # the protocol ran on to its end


def test_beam_loss_pauses_imaging_while_electrochemistry_continues(sim, RE):
    sim.world.schedule_beam_dump(start_s=100.0, duration_s=150.0)
    RE(operando(sim, short_protocol(), [ROI], every_s=30.0, dwell_ms=0.5))
    milestones = [e["data"] for e in RE.recorder.events("protocol")]
    lost = [m for m in milestones if m["protocol_event"] == "beam_lost"]
    assert len(lost) >= 3 and all(100.0 <= m["protocol_time"] <= 250.0 for m in lost)
    image_times = [e["data"]["raster_start_time"] for e in RE.recorder.images("particle_0")]
    assert not any(100.0 <= t < 250.0 for t in image_times)
    assert any(t >= 250.0 for t in image_times)  # imaging resumed with the beam
    ec_times = [e["data"]["ec_time"] for e in RE.recorder.events("electrochemistry")]
    inside = [t for t in ec_times if 100.0 <= t < 250.0]
    assert len(inside) > 100  # recorded every second through the dump


def test_cutoff_mid_step_ends_it_and_is_recorded(sim, RE):
    protocol = [Galvanostatic(c_rate=10.0, until_V=3.25, duration_s=2000.0), Rest(60.0)]
    result = RE(operando(sim, protocol, [ROI], every_s=60.0, dwell_ms=0.5))
    assert "lower cutoff 3.250 V" in result.plan_result[0]
    ends = [
        e["data"] for e in RE.recorder.events("protocol") if e["data"]["protocol_event"] == "end"
    ]
    assert "cutoff" in ends[0]["protocol_reason"] and ends[0]["protocol_time"] < 2000.0
