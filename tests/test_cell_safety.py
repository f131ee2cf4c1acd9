"""The cell is never left driven and nothing is lost silently: a fault table.

Each row reproduces a probe that once left current flowing or lost data, on the simulated
backend and, for a dying client, over Channel Access against the IOC. Each asserts the
cell's final state and, where documents are involved, what was recorded.
"""

import math
import signal
import subprocess
import sys
import threading
import time
import warnings

import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from conftest import CA_PORT, connect_epics, start_ioc, stop_ioc

from stxm_operando.config import BeamlineConfig, ConfigError, MonoConfig, PotentiostatConfig
from stxm_operando.devices import simulated_beamline
from stxm_operando.plans import (
    Galvanostatic,
    ParticleROI,
    PlanArgumentError,
    Rest,
    electrochemistry,
    find_particles,
    focus_scan,
    operando,
    stack,
    switch_off_on_halt,
    two_energy_image,
)
from stxm_operando.storage.journal import read_journal

ROI = ParticleROI(0, -0.9, 0.2, 30, 20)


def cell_is_open(bl) -> bool:
    pstat = bl.world.potentiostat
    return pstat.mode.value == "OCV" and not pstat.output_on


def pause_at_first_reading(RE):
    """A callback that requests a pause at the first electrochemistry event."""
    asked = []

    def callback(name, doc):
        if name == "event_page" and "ec_voltage" in doc["data"] and not asked:
            asked.append(True)
            threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()

    return callback


def run_until_paused(RE, plan):
    with pytest.raises(RunEngineInterrupted):  # at the pause
        RE(plan)
    deadline = time.monotonic() + 30
    while RE.state != "paused" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert RE.state == "paused"


def test_a_paused_step_ends_by_itself_at_its_programmed_duration(sim):
    RE = RunEngine({}, context_managers=[])
    documents = []
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    RE.subscribe(pause_at_first_reading(RE))
    steps = [Galvanostatic(c_rate=4.0, duration_s=300.0)]
    run_until_paused(RE, electrochemistry(sim, steps))
    pstat = sim.world.potentiostat
    assert pstat.output_on  # a pause leaves the step running
    sim.world.advance(3600.0)  # an hour passes with the plan paused
    assert cell_is_open(sim)
    assert "duration 300 s reached" in pstat.trip_reason
    capacity_C = sim.config.potentiostat.capacity_Ah * 3600
    assert abs(pstat.charge_C) / capacity_C == pytest.approx(4.0 * 300 / 3600, rel=0.02)
    RE.resume()
    ends = [
        d["data"]["protocol_reason"]
        for n, d in documents
        if n == "event"
        if d["data"].get("protocol_event") == "end"
    ]
    assert len(ends) == 1 and "duration 300 s reached" in ends[0]
    assert documents[-1][1]["exit_status"] == "success"


def test_halt_at_a_pause_opens_the_circuit(sim):
    RE = RunEngine({}, context_managers=[])
    switch_off_on_halt(RE, sim)
    RE.subscribe(pause_at_first_reading(RE))
    stops = []
    RE.subscribe(lambda name, doc: stops.append(doc) if name == "stop" else None)
    run_until_paused(RE, electrochemistry(sim, [Galvanostatic(c_rate=4.0, duration_s=1800.0)]))
    assert sim.world.potentiostat.output_on
    RE.halt()
    assert cell_is_open(sim)
    deadline = time.monotonic() + 30
    while RE.state != "idle":  # the halted run closes on the RunEngine's own thread
        assert time.monotonic() < deadline
        time.sleep(0.01)
    sim.world.advance(600.0)
    assert abs(sim.world.potentiostat.current_A) < 1e-15  # no current at open circuit
    assert stops and stops[-1]["exit_status"] == "abort"
    assert "switched to OCV" in stops[-1]["reason"]


def test_halt_with_a_bare_run_engine_opens_the_circuit_too(sim):
    """``RE = RunEngine({})`` as a user builds it, without ``switch_off_on_halt``: the plan
    itself opens the circuit when the halt closes it."""
    RE = RunEngine({}, context_managers=[])
    RE.subscribe(pause_at_first_reading(RE))
    run_until_paused(RE, electrochemistry(sim, [Galvanostatic(c_rate=4.0, duration_s=1800.0)]))
    assert sim.world.potentiostat.output_on
    RE.halt()
    assert cell_is_open(sim)
    sim.world.advance(600.0)
    assert abs(sim.world.potentiostat.current_A) < 1e-15


def test_a_capacity_limit_is_kept_by_the_instrument(sim):
    pstat = sim.world.potentiostat
    capacity_C = sim.config.potentiostat.capacity_Ah * 3600
    pstat.set_current(2 * sim.config.potentiostat.capacity_Ah)  # 2C
    pstat.set_mode("GALVANOSTATIC")
    pstat.set_step_limits(0.0, 0.1 * capacity_C)
    pstat.set_output(True)
    sim.world.advance(3600.0)
    assert not pstat.output_on and "capacity" in pstat.trip_reason
    assert abs(pstat.charge_C) == pytest.approx(0.1 * capacity_C, rel=0.01)


@pytest.mark.parametrize(
    "config, key",
    [
        (
            lambda: BeamlineConfig(potentiostat=PotentiostatConfig(max_current_A=math.inf)),
            "max_current_A",
        ),
        (
            lambda: BeamlineConfig(mono=MonoConfig(energy_limits_eV=(700.0, math.inf))),
            "energy_limits_eV",
        ),
        (lambda: BeamlineConfig(potentiostat=PotentiostatConfig(watchdog_s=-1.0)), "watchdog_s"),
    ],
)
def test_unbounded_config_is_refused(config, key):
    with pytest.raises(ConfigError, match=key):
        config().validate()


def never_driven(bl) -> bool:
    log = bl.world.potentiostat.log_array()
    return not bl.world.potentiostat.output_on and (log[:, 2] == 0).all()


def test_until_v_behind_the_cell_is_refused_before_current_flows(sim):
    RE = RunEngine({}, context_managers=[])
    voltage = sim.world.potentiostat.voltage_V
    lithiation_ending_above = Galvanostatic(c_rate=1.0, until_V=min(voltage + 0.2, 4.4))
    with pytest.raises(PlanArgumentError, match="not ahead"):
        RE(electrochemistry(sim, [lithiation_ending_above]))
    assert never_driven(sim)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(particles=[ParticleROI("a b", -0.9, 0.2, 30, 20)]), "particle ids"),
        (dict(particles=[ParticleROI(0, -0.9, 0.2, True, 20)]), "num_x"),
        (dict(particles=[ParticleROI(0, math.nan, 0.2, 30, 20)]), "centre"),
        (dict(every_s=0.01), "every_s must be 1 to 3600 s"),
        (dict(beam_threshold_mA=math.nan), "beam_threshold_mA"),
        (dict(energies=(708.2, 708.2)), "distinct"),
        (dict(energies=(706.0, 708.2, 710.2)), "exactly 2"),
        (dict(protocol=[Galvanostatic(c_rate=True, duration_s=60.0)]), "finite number"),
        (dict(protocol=[Galvanostatic(c_rate=1e6, duration_s=60.0)]), "compliance"),
        # hostile probes (issue 27): each reached plan code, moved or drove the cell before
        (dict(particles=[ParticleROI(0, 0.0, 0.0, 10000, 1)], step_nm=1.0), "at most 8192"),
        (dict(protocol=None), "a protocol is a list of steps"),
        (dict(protocol="rest"), "a protocol is a list of steps"),
        (dict(initial_soc="half"), "initial_soc must be within"),
        (dict(md="foo"), "md must be a dict"),
        (dict(track_drift="no"), "track_drift must be True or False"),
        (dict(dwell_ms=1e12), "at most 1000 ms"),
        (dict(every_s=1e9), "every_s must be 1 to 3600 s"),
        (dict(protocol=[Rest(1e12)]), "duration_s must be at most"),
        (dict(protocol=[Galvanostatic(c_rate=1.0, until_capacity=1e9)]), "until_capacity"),
    ],
)
def test_bad_operando_arguments_are_refused_before_anything_moves(sim, kwargs, message):
    RE = RunEngine({}, context_managers=[])
    documents = []
    RE.subscribe(lambda name, doc: documents.append(name))
    arguments = dict(protocol=[Rest(60.0)], particles=[ROI], every_s=60.0) | kwargs
    positions = dict(sim.world.positions)
    with pytest.raises(PlanArgumentError, match=message):
        RE(operando(sim, **arguments))
    assert documents == [] and sim.world.positions == positions and never_driven(sim)


@pytest.mark.parametrize(
    "make_plan, message",
    [
        (lambda bl: find_particles(bl, num_x=9000, num_y=10, step_nm=1.0), "at most 8192"),
        (lambda bl: find_particles(bl, margin_px=-30), "margin_px must be a whole number"),
        (lambda bl: find_particles(bl, margin_px="4"), "margin_px must be a whole number"),
        (lambda bl: two_energy_image(bl, ParticleROI(0, 0.0, 0.0, 10000, 1), step_nm=1.0), "8192"),
        (lambda bl: two_energy_image(bl, ROI, dwell_ms=1e12), "at most 1000 ms"),
        (lambda bl: focus_scan(bl, ROI, ["a", 0.0, 1.0]), "defocus_um must be a list of numbers"),
        (lambda bl: operando("bl", [Rest(60.0)], [ROI]), "first argument must be the beamline"),
        (lambda bl: stack("bl", ROI, [708.2, 710.2]), "first argument must be the beamline"),
    ],
)
def test_hostile_imaging_arguments_are_refused_before_anything_moves(sim, make_plan, message):
    positions = dict(sim.world.positions)
    with pytest.raises(PlanArgumentError, match=message):
        make_plan(sim)
    assert sim.world.positions == positions and never_driven(sim)


def test_record_period_has_a_floor(sim):
    with pytest.raises(PlanArgumentError, match="record_every_s must be 1 to 3600 s"):
        electrochemistry(sim, [Rest(60.0)], record_every_s=1e-9)


def test_a_log_overrun_during_a_long_pause_is_recorded_as_a_gap():
    config = BeamlineConfig(potentiostat=PotentiostatConfig(log_length=100))
    bl = simulated_beamline(config)
    RE = RunEngine({}, context_managers=[])
    documents = []
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    RE.subscribe(pause_at_first_reading(RE))
    run_until_paused(RE, electrochemistry(bl, [Rest(3600.0)]))
    bl.world.advance(3000.0)  # an hour-long pause: ~570 readings into a 100-reading log
    RE.resume()
    milestones = [d["data"] for n, d in documents if n == "event" and "protocol_event" in d["data"]]
    (gap,) = [m for m in milestones if m["protocol_event"] == "log gap"]
    assert "overwritten" in gap["protocol_reason"]
    readings = [
        index
        for n, d in documents
        if n == "event_page" and "ec_index" in d["data"]
        for index in d["data"]["ec_index"]
    ]
    assert readings == sorted(set(readings))  # nothing twice


def test_a_corrupt_journal_line_is_skipped_and_reported(tmp_path):
    journal = tmp_path / "run.jsonl"
    lines = [f'{{"name": "event", "doc": {{"seq_num": {k}}}}}' for k in range(10)]
    lines[3] = '{"name": "event", "doc": {"seq_'  # damaged in the middle
    lines[6] = "\x00\x00garbage"
    journal.write_text("\n".join(lines) + "\n")
    with pytest.warns(RuntimeWarning, match="line 4 skipped") as caught:
        documents = list(read_journal(journal))
    assert [d["seq_num"] for _, d in documents] == [0, 1, 2, 4, 5, 7, 8, 9]
    assert any("line 7" in str(w.message) for w in caught)


CLIENT = """
import sys
from stxm_operando.epics_env import use_local_channel_access
use_local_channel_access(int(sys.argv[2]))
from bluesky import RunEngine
from stxm_operando.devices import epics_beamline
from stxm_operando.plans import Galvanostatic, electrochemistry
bl = epics_beamline(prefix=sys.argv[1], timeout=20.0)
RE = RunEngine({})
RE.subscribe(lambda name, doc: print(name, flush=True))
RE(electrochemistry(bl, [Galvanostatic(c_rate=0.5, duration_s=36000.0)]))
"""


def wait_for_beats(beamline, timeout_s: float = 10.0) -> bool:
    """Whether ``beamline``'s potentiostat is heard beating its own token within the time."""
    deadline = time.monotonic() + timeout_s
    pstat = beamline.potentiostat
    while time.monotonic() < deadline:
        if pstat.heartbeat.get() == pstat.session_token:
            return True
        time.sleep(0.2)
    return False


def test_a_killed_client_leaves_the_ioc_cell_at_ocv_within_the_watchdog(tmp_path):
    import epics

    watchdog_s = 3.0
    config_file = tmp_path / "beamline.toml"
    config_file.write_text(f"[potentiostat]\nwatchdog_s = {watchdog_s}\n")
    prefix = "WDG:"
    ioc = start_ioc(prefix, config=config_file)
    client = None
    try:
        # a second session, idle but connected, beating its own heartbeat all along: it
        # must not keep the dead client's step running (it is not the cell's owner)
        idle = connect_epics(prefix, ioc)
        assert wait_for_beats(idle)
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT, prefix, str(CA_PORT)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        output = epics.PV(f"{prefix}Pstat:Output")
        deadline = time.monotonic() + 90
        while output.get(timeout=2) != 1:  # the step is running
            assert client.poll() is None, client.stderr.read()
            assert time.monotonic() < deadline, "the client never switched the cell on"
            time.sleep(0.2)
        time.sleep(2 * watchdog_s)  # heartbeats keep a live client's step running
        assert output.get(timeout=2) == 1
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)
        killed = time.monotonic()
        while output.get(timeout=2) != 0:
            assert time.monotonic() - killed < watchdog_s + 5, "the cell is still driven"
            time.sleep(0.1)
        reason = epics.caget(f"{prefix}Pstat:TripReason", as_string=True, timeout=2)
        assert "watchdog" in reason
        assert wait_for_beats(idle)  # the idle session beat on all along
        assert epics.caget(f"{prefix}Pstat:Mode", as_string=True, timeout=2) == "OCV"
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait(timeout=10)
        stop_ioc(ioc)


def test_the_journal_warning_names_no_lost_document_when_all_lines_are_sound(tmp_path):
    journal = tmp_path / "run.jsonl"
    journal.write_text('{"name": "start", "doc": {"uid": "u"}}\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [name for name, _ in read_journal(journal)] == ["start"]


def test_a_capacity_step_is_programmed_into_the_instrument(sim):
    RE = RunEngine({}, context_managers=[])
    starts = []
    RE.subscribe(lambda name, doc: starts.append(doc) if name == "start" else None)
    RE(electrochemistry(sim, [Galvanostatic(c_rate=2.0, until_capacity=0.05)]))
    (step,) = starts[0]["protocol"]
    assert step["until_capacity"] == 0.05
    pstat = sim.world.potentiostat
    assert pstat.step_capacity_C == pytest.approx(0.05 * sim.config.potentiostat.capacity_Ah * 3600)
    assert cell_is_open(sim)


def test_only_configured_hosts_may_write_the_potentiostat_over_channel_access(tmp_path):
    import epics

    config_file = tmp_path / "beamline.toml"
    config_file.write_text('[potentiostat]\nwrite_hosts = ["beamline-control-1"]\n')
    prefix = "ASG:"
    ioc = start_ioc(prefix, config=config_file)
    try:
        output = epics.PV(f"{prefix}Pstat:Output")
        fine_x = epics.PV(f"{prefix}FineX")
        assert output.wait_for_connection(30) and fine_x.wait_for_connection(30)
        assert output.read_access and not output.write_access  # this host is not listed
        assert fine_x.write_access  # other devices are not restricted
        with pytest.raises(Exception, match=r"(?i)access"):
            output.put(1, wait=True, timeout=5)
        assert output.get(timeout=5) == 0
        # a client claiming to be the allowed host (CA trusts the name a client states) is
        # refused too: its address is not one that beamline-control-1 resolves to
        from caproto import AccessRights
        from caproto.threading.client import Context

        faking = Context(host_name="beamline-control-1")
        try:
            (claimed,) = faking.get_pvs(f"{prefix}Pstat:Output", timeout=10)
            claimed.wait_for_connection(timeout=10)
            assert AccessRights.WRITE in claimed.access_rights  # the claim alone was enough
            claimed.write([1], wait=False)  # the IOC answers with an error (PUTFAIL)
            time.sleep(1.0)
        finally:
            faking.disconnect()
        assert output.get(timeout=5) == 0
    finally:
        stop_ioc(ioc)


@pytest.mark.parametrize("command", ["ioc", "proxy"])
def test_binding_off_loopback_needs_an_explicit_flag(command):
    result = subprocess.run(
        [sys.executable, "-m", "stxm_operando.cli", command, "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--allow-remote" in result.stderr
    assert "Traceback" not in result.stderr


def test_numpy_numbers_are_numbers_and_bools_are_not(sim):
    import numpy as np

    from stxm_operando.plans.imaging import check_rois
    from stxm_operando.plans.validation import check_energies

    assert check_energies(sim, np.array([708.2, 710.2]), count=2) == (708.2, 710.2)
    roi = ParticleROI(np.int64(3), np.float64(-0.9), 0.2, np.int64(30), 20)
    assert check_rois(sim, [roi], 40.0, 1.0)[0].particle_id == 3
    for bad in ([True, 710.2], [np.bool_(True), 710.2]):
        with pytest.raises(PlanArgumentError, match="numbers in eV"):
            check_energies(sim, bad)
