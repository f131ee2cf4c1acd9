"""The plans are pure message generators with bluesky's standard metadata.

bluesky's own ``RunEngineSimulator`` and ``summarize_plan`` drive them with no RunEngine; any
device access that does not go through a message fails the test, and nothing on the
simulated beamline may change.
"""

import json

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.simulators import RunEngineSimulator, summarize_plan

from stxm_operando.plans import (
    Galvanostatic,
    ParticleROI,
    Rest,
    electrochemistry,
    focus_scan,
    operando,
    two_energy_image,
)

ROI = ParticleROI(0, -0.9, 0.2, 34, 22)


class SimulatedCell:
    """Answers a plan's reads like a cell under galvanostatic control would: the beamline
    clock advances by each hold, charge flows at ``current_A``; the mode stays on."""

    def __init__(self, bl, current_A: float) -> None:
        self.bl, self.current_A, self.time_s = bl, current_A, 0.0
        self.holds: list[float] = []

    def values(self) -> dict:
        pstat = self.bl.potentiostat
        return {
            self.bl.clock.time.name: self.time_s,
            pstat.charge.name: self.current_A * self.time_s,
            pstat.voltage.name: 3.4,
            pstat.current.name: self.current_A,
            pstat.mode.name: "GALVANOSTATIC",
            pstat.output.name: 1,
            self.bl.beam.current.name: 400.0,
        }

    def read(self, msg):
        values = self.values()
        if msg.obj.name in values:
            return {msg.obj.name: {"value": values[msg.obj.name], "timestamp": 0.0}}
        return None

    def hold(self, msg):
        self.holds.append(msg.args[0])
        self.time_s += msg.args[0]

    def simulator(self) -> RunEngineSimulator:
        simulator = RunEngineSimulator()
        simulator.add_handler("read", self.read)
        simulator.add_handler("set", self.hold, self.bl.clock.name)
        return simulator


def test_electrochemistry_runs_in_bluesky_simulator_without_device_io(sim, no_device_io):
    current = sim.potentiostat.current_for_c_rate(4.0)
    cell = SimulatedCell(sim, current)
    no_device_io()  # before the plan is built: building it reads no device either
    plan = electrochemistry(sim, [Galvanostatic(c_rate=4.0, duration_s=600.0)], 60.0)
    messages = cell.simulator().simulate_plan(plan)
    commands = [m.command for m in messages]
    before_run = messages[: commands.index("open_run")]
    assert [m.args for m in before_run if m.command == "rewindable"][-1] == (False,)
    assert "close_run" in commands
    assert commands.index("declare_stream") < commands.index("kickoff") < commands.index("collect")
    assert sum(cell.holds) == pytest.approx(600.0) and len(cell.holds) == 10  # every 60 s
    assert commands.count("collect") == 10
    sets = [(m.obj.name, m.args[0]) for m in messages if m.command == "set"]
    pstat = sim.potentiostat
    assert [v for n, v in sets if n == pstat.current_setpoint.name] == [pytest.approx(current)]
    assert [v for n, v in sets if n == pstat.output.name] == [1, 0]  # on; off when it ends
    assert sim.world.clock_s == 0.0 and not sim.world.potentiostat.output_on  # nothing ran


def test_operando_runs_in_bluesky_simulator_without_device_io(sim, no_device_io):
    protocol = [Galvanostatic(c_rate=2.0, duration_s=300.0), Rest(120.0)]
    cell = SimulatedCell(sim, sim.potentiostat.current_for_c_rate(2.0))
    no_device_io()
    plan = operando(sim, protocol, [ROI], every_s=60.0, dwell_ms=0.5)
    messages = cell.simulator().simulate_plan(plan)
    opens = [m for m in messages if m.command == "open_run"]
    names = [m.kwargs.get("plan_name") for m in opens]
    assert names == ["operando", "operando_images", "operando_images"]
    triggers = [m for m in messages if m.command == "trigger" and m.obj is sim.raster]
    assert len(triggers) == 2 * (5 + 2) * ROI.num_y  # a line each: two energies, a pass a minute
    frames = [m.args[0] for m in messages if m.command == "set" and m.obj.name == "frame_index"]
    assert frames == list(range(7))
    assert sim.world.clock_s == 0.0


def test_summarize_plan_lists_the_moves_of_an_image(sim, capsys, no_device_io):
    no_device_io()
    plan = two_energy_image(sim, ROI)
    summarize_plan(plan)
    printed = capsys.readouterr().out
    assert f"{sim.scanner.name} -> 708.2" in printed and f"{sim.scanner.name} -> 710.2" in printed
    assert "Read ['dose']" in printed  # the lines are collected as pages, not read events


def test_focus_scan_takes_its_images_from_the_readings(sim, no_device_io):
    """Its choice of focus comes from the readings the RunEngine returns, not from a device."""
    offsets = [-3.0, 0.0, 3.0]
    no_device_io()
    plan = focus_scan(sim, ROI, offsets)
    sharp = np.zeros((22, 34))
    sharp[8:14, 10:24] = 100.0
    blurred = np.full((22, 34), 50.0)
    lines = iter([line for image in (blurred, sharp, blurred) for line in image])
    raster, shutter = sim.raster, sim.shutter

    def read(msg):
        if msg.obj is raster:
            values = {raster.counts: next(lines), raster.energy: 708.2}
            values |= {raster.x_positions: np.zeros(34), raster.y_positions: np.zeros(34)}
        elif msg.obj is shutter:
            values = {shutter.exposure: 0.0, shutter.photons: 0.0}
        else:
            return None
        return {signal.name: {"value": value, "timestamp": 0.0} for signal, value in values.items()}

    simulator = RunEngineSimulator()
    simulator.add_handler("read", read)
    simulator.simulate_plan(plan)
    assert simulator.return_value == 0.0


def test_start_documents_carry_blueskys_standard_metadata(sim):
    RE = RunEngine({}, call_returns_result=True)
    starts = []
    RE.subscribe(lambda name, doc: starts.append(doc), "start")
    protocol = [{"c_rate": 2.0, "duration_s": 120.0}, {"kind": "Rest", "duration_s": 60.0}]
    RE(operando(sim, protocol, [vars(ROI)], every_s=60.0, dwell_ms=0.5, sample="s"))
    RE(two_energy_image(sim, ROI, dwell_ms=0.5))
    outer, first_images, _, image = starts
    assert outer["detectors"] == [sim.potentiostat.name, sim.raster.name]
    assert outer["hints"]["dimensions"] == [[["ec_time"], "electrochemistry"]]
    assert first_images["hints"]["dimensions"] == [[[sim.scanner.energy.name], "particle_0"]]
    assert image["detectors"] == [sim.raster.name]
    assert outer["estimated_duration_s"] == 180.0  # the protocol: 120 s + 60 s
    assert first_images["estimated_duration_s"] == 120.0  # its own step
    # plan_args is JSON that a queue server could send back to repeat the plan
    args = json.loads(json.dumps(outer["plan_args"]))
    assert args["beamline"] == "bl" and args["particles"] == [vars(ROI)]
    assert [s["kind"] for s in args["protocol"]] == ["Galvanostatic", "Rest"]
    again = operando(sim, **{k: v for k, v in args.items() if k != "beamline"})
    assert next(again).command == "rewindable"  # the recorded arguments make a valid plan
    assert image["plan_args"]["roi"] == vars(ROI)
    assert image["plan_args"]["energies"] == [708.2, 710.2]
