"""The MethodSCRIPT potentiostat against outside references: PalmSens' documented packages,
labmcp-palmsens' independent driver, parser and instrument simulator (Apache-2.0, run from
the venv ``make test`` gives it: see the Makefile), and the operando protocol through a real
pseudo-terminal, with the simulated potentiostat as the reference."""

import json
import math
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted

from stxm_operando.config import BeamlineConfig, PotentiostatConfig
from stxm_operando.devices import simulated_beamline
from stxm_operando.devices.potentiostat_methodscript import MethodScriptPotentiostat
from stxm_operando.limits import ComplianceError, Mode
from stxm_operando.live_callbacks import OperandoAnalysis
from stxm_operando.methodscript import codec
from stxm_operando.methodscript.client import MethodScriptClient
from stxm_operando.methodscript.codec import MethodScriptError
from stxm_operando.methodscript.scripts import StepProgram, step_script
from stxm_operando.physics.constants import OCV_PLATEAU_V
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando
from stxm_operando.sim import SimulatedBeamline
from stxm_operando.sim.instrument_link import serve_pty
from stxm_operando.sim.methodscript import MethodScriptInstrument
from stxm_operando.storage import Catalog

THIRD_PARTY = Path(__file__).parent / "third_party"
LABMCP_PYTHON = Path(
    os.environ.get(
        "STXM_OPERANDO_LABMCP_PYTHON", Path(__file__).parents[1] / ".venv-labmcp/bin/python"
    )
)


def labmcp(script: str, *args: str, **kwargs) -> subprocess.Popen:
    """A helper of ``tests/third_party`` running on labmcp-palmsens' own interpreter."""
    if not LABMCP_PYTHON.exists():
        pytest.fail(f"no {LABMCP_PYTHON}: `make test` installs labmcp-palmsens there")
    return subprocess.Popen(
        [str(LABMCP_PYTHON), str(THIRD_PARTY / script), *args], text=True, **kwargs
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrintedLines:
    """A process's printed lines, read on a thread of their own as they come."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line.strip())

    def until(self, text: str, timeout_s: float = 30.0) -> list[str]:
        """The lines up to one containing ``text``."""
        seen, deadline = [], time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                seen.append(self.lines.get(timeout=0.2))
            except queue.Empty:
                continue
            if text in seen[-1]:
                return seen
        raise AssertionError(f"{text!r} never printed; printed: {seen}")


@pytest.fixture
def instrument_process():
    """``stxm-operando potentiostat-sim --listen`` in its own process, 50x real time."""
    port = free_port()
    command = [sys.executable, "-m", "stxm_operando.cli", "potentiostat-sim", "--speed", "50"]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    printed = PrintedLines(process)
    printed.until("MethodSCRIPT instrument")
    yield port, printed
    process.terminate()
    process.wait(timeout=10)


# --- the wire format against PalmSens' own documentation ------------------------------
def test_packages_from_palmsens_documentation_decode_to_the_values_it_states():
    """MethodSCRIPT_Examples' C and Arduino READMEs: an LSV package on a 10 kOhm dummy cell
    ("E (V) = -4.999E-01, Status: OK, CR: 1mA (High speed)") and an EIS package
    ("Frequency(Hz): 100.0, Zreal(Ohm): 9885.956, Zimag(Ohm): 2.995")."""
    potential, current = codec.parse_package("Pda7F85F3Fu;ba4BA99F0p,10,288")
    assert (potential.var_type, round(potential.value, 4)) == ("da", -0.4999)
    assert current.flags == [] and current.current_range == 0x88  # 0x80: high speed
    assert current.value == pytest.approx(potential.value / 10e3, rel=0.15)  # Ohm's law
    frequency, z_real, z_imag = codec.parse_package(
        "PdcDF5DFF4u;cc896D904m,10,287;cd82DB1A8u,10,287"
    )
    assert round(frequency.value, 1) == 100.0
    assert round(z_real.value, 3) == 9885.956 and round(z_imag.value, 3) == 2.995


def test_our_packages_decode_the_same_with_an_independent_parser():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(0, 1, 200) * 10.0 ** rng.integers(-12, 3, 200), [0.0]])
    lines = [
        codec.format_package(
            [codec.PackageValue("eb", abs(v)), codec.PackageValue("ba", v, 0x2, 12)]
        )
        for v in values
    ]
    parser = labmcp("labmcp_client.py", "parse", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    output, _ = parser.communicate("\n".join(lines) + "\n", timeout=60)
    theirs = [json.loads(row) for row in output.splitlines()]
    assert len(theirs) == len(lines)
    for value, line, their in zip(values, lines, theirs, strict=True):
        ours = codec.parse_package(line)
        assert [[v.var_type, v.value] for v in ours] == [row[:2] for row in their]
        assert their[1][2:] == [0x2, 12] and "overload" in ours[1].flags
        # the smallest SI prefix that fits keeps |raw| >= 2^27 / 1000: half a count of that
        assert abs(ours[1].value - value) <= abs(value) * 1000 / 2**28 + 1e-30


# --- their driver, our simulator --------------------------------------------------------
def test_a_third_party_driver_identifies_our_simulator_and_runs_a_chronoamperometry(
    instrument_process,
):
    port, printed = instrument_process
    ocp = json.dumps(step_script(StepProgram(Mode.OCV, duration_s=20.0)))
    above = OCV_PLATEAU_V + 0.05
    driver = labmcp(
        "labmcp_client.py", "drive", str(port), ocp, f"{above:.3f}", stdout=subprocess.PIPE
    )
    output, _ = driver.communicate(timeout=120)
    assert driver.returncode == 0
    result = json.loads(output)
    assert result["info"]["model"] == "EmStat4 HR" and result["info"]["serial"] == "ES4HRSIM0001"
    assert len(result["ocp_V"]) == 20  # one reading a second for 20 s
    assert all(abs(v - OCV_PLATEAU_V) < 0.05 for v in result["ocp_V"])  # LiFePO4's plateau
    assert result["ca_error"] is None and result["ca_points"] == 30
    assert all(c < 0 for c in result["ca_A"])  # above equilibrium: delithiation, negative
    printed.until("script ended (its run time)")


def test_z_ends_a_running_loop_and_the_cell_is_off(instrument_process):
    port, printed = instrument_process
    client = MethodScriptClient(f"socket://127.0.0.1:{port}")
    ended, packages = threading.Event(), []
    try:
        program = StepProgram(Mode.GALVANOSTATIC, current_A=1e-6, lower_V=2.5, upper_V=4.3)
        client.run(step_script(program), packages.append, lambda why: ended.set())
        deadline = time.monotonic() + 20
        while not packages:
            assert time.monotonic() < deadline, "no reading came"
            time.sleep(0.05)
        client.abort()
        assert ended.wait(5)
        ended_line = printed.until("script ended")[-1]
        assert "aborted (Z)" in ended_line and ended_line.endswith("cell off")
    finally:
        client.close()


# --- our backend, their simulator --------------------------------------------------------
@pytest.fixture
def their_simulator():
    """labmcp-palmsens' EmStat Pico simulator on a TCP socket, 20x real time."""
    process = labmcp("labmcp_simulator.py", "20", stdout=subprocess.PIPE)
    printed = PrintedLines(process)
    (line,) = printed.until("listening")[-1:]
    yield int(line.split()[1])
    process.terminate()
    process.wait(timeout=10)


def test_our_potentiostatic_hold_runs_and_aborts_on_a_third_party_simulator(their_simulator):
    client = MethodScriptClient(f"socket://127.0.0.1:{their_simulator}")
    try:
        assert client.identify().model == "EmStat Pico"
        packages, ended = [], []
        short = StepProgram(Mode.POTENTIOSTATIC, voltage_V=0.4, duration_s=2.0, interval_s=0.1)
        client.run(step_script(short), packages.append, ended.append)
        deadline = time.monotonic() + 10
        while not ended:
            assert time.monotonic() < deadline, "the hold never ended"
            time.sleep(0.05)
        assert ended == [""] and len(packages) == 20
        currents = [v.value for package in packages for v in package if v.var_type == "ba"]
        assert all(c > 0 for c in currents)  # oxidising its reduced couple: anodic current
        packages.clear()
        ended.clear()
        long = StepProgram(Mode.POTENTIOSTATIC, voltage_V=0.4, duration_s=600.0, interval_s=0.1)
        client.run(step_script(long), packages.append, ended.append)
        time.sleep(0.5)
        client.abort()
        deadline = time.monotonic() + 3  # the whole hold would take 30 s at 20x
        while not ended:
            assert time.monotonic() < deadline, "Z did not end the hold"
            time.sleep(0.02)
        assert ended == [""] and 0 < len(packages) < 6000
    finally:
        client.close()


# --- the operando protocol on the MethodSCRIPT backend ---------------------------------
PROTOCOL = [Rest(120.0), Galvanostatic(c_rate=4.0, until_V=3.3), Rest(120.0)]
ROIS = [ParticleROI(0, -0.9, 0.2, 30, 20)]


def beamline_on_a_pty():
    """A simulated beamline whose potentiostat is its own world's MethodSCRIPT instrument,
    served on a pseudo-terminal: (world, instrument, beamline)."""
    world = SimulatedBeamline()
    instrument = MethodScriptInstrument(world.potentiostat, world.lock)
    paths = []
    threading.Thread(target=serve_pty, args=(instrument, paths.append), daemon=True).start()
    deadline = time.monotonic() + 10
    while not paths:
        assert time.monotonic() < deadline, "the pty was never served"
        time.sleep(0.01)
    config = BeamlineConfig.from_dict(
        {"potentiostat": {"backend": "methodscript", "port": paths[0]}}
    )
    return world, instrument, simulated_beamline(config, world=world)


def run_protocol(bl, *callbacks):
    RE = RunEngine({}, context_managers=[])
    for callback in callbacks:
        RE.subscribe(callback)
    RE(operando(bl, PROTOCOL, ROIS, every_s=60.0, dwell_ms=0.5))


def test_the_operando_protocol_runs_on_the_methodscript_backend_through_a_pty(tmp_path):
    world, instrument, bl = beamline_on_a_pty()
    assert type(bl.potentiostat).__name__ == "MethodScriptPotentiostat"
    analysis, reference = OperandoAnalysis(), OperandoAnalysis()
    protocol_docs, reference_docs = [], []
    with Catalog.embedded(tmp_path / "catalog") as catalog:
        writer = catalog.writer()
        run_protocol(bl, analysis, writer, lambda n, d: protocol_docs.append((n, d)))
        writer.flush()
        (uid,) = catalog.search(plan_name="operando")
        stored = [d for n, d in catalog.documents(uid) if n in ("event", "event_page")]
    run_protocol(simulated_beamline(), reference, lambda n, d: reference_docs.append((n, d)))

    def step_ends(docs):
        return {
            d["data"]["protocol_step"]: (d["data"]["protocol_time"], d["data"]["protocol_reason"])
            for n, d in docs
            if n == "event" and d["data"].get("protocol_event") == "end"
        }

    ours, theirs = step_ends(protocol_docs), step_ends(reference_docs)
    assert set(ours) == set(theirs) == {0, 1, 2}
    assert "lower cutoff 3.300 V crossed" in ours[1][1] and "lower cutoff" in theirs[1][1]
    # the plan sees the end at the same pass (or at the next, had the crossing come within
    # one reading, 1 s, of a pass's end: the instrument checks at its readings)
    assert ours[1][0] in (theirs[1][0], theirs[1][0] + 60.0)
    assert analysis.progress.finished and not analysis.failures
    assert len(analysis.frames) == len(reference.frames) > 0
    ec = analysis.electrochemistry()
    assert len(ec["time"]) > 200 and np.all(np.diff(ec["time"]) > 0)
    assert np.nanmin(ec["voltage"]) < 3.3 + 0.05 and abs(ec["voltage"][0] - OCV_PLATEAU_V) < 0.05
    assert any("ec_voltage" in d["data"] for d in stored)  # the stored run has the readings
    configurations = [d["configuration"] for n, d in protocol_docs if n == "descriptor"]
    instrument = {
        c["data"].get("potentiostat_instrument")
        for configuration in configurations
        for c in configuration.values()
    }
    assert "EmStat4 HR ES4HRSIM0001 fw 14" in instrument
    assert not world.potentiostat.output_on
    bl.potentiostat.destroy()


def test_a_killed_client_leaves_the_instrument_to_end_its_step_and_switch_off(
    instrument_process,
):
    port, printed = instrument_process
    client_code = f"""
import time
from stxm_operando.config import PotentiostatConfig
from stxm_operando.devices.potentiostat_methodscript import MethodScriptPotentiostat
pstat = MethodScriptPotentiostat("socket://127.0.0.1:{port}", config=PotentiostatConfig(),
                                 clock=time.time, name="pstat")
pstat.current_setpoint.put(-1e-7)
pstat.mode.put("GALVANOSTATIC")
pstat.step_duration.put(100.0)
pstat.output.put(1)
print("running", flush=True)
time.sleep(60)
"""
    client = subprocess.Popen(
        [sys.executable, "-c", client_code], stdout=subprocess.PIPE, text=True
    )
    try:
        assert client.stdout.readline().strip() == "running"
        printed.until("meas_loop_cp started")
        os.kill(client.pid, signal.SIGKILL)
        client.wait(10)
        with pytest.raises(MethodScriptError, match="already running on the instrument"):
            MethodScriptPotentiostat(  # a new session finds the step running, and says so
                f"socket://127.0.0.1:{port}", config=PotentiostatConfig(), clock=time.time, name="p"
            )
        ended = printed.until("script ended", timeout_s=30)[-1]
        assert "its run time" in ended and ended.endswith("cell off")
        step_s = float(ended.split("t = ")[1].split(" s")[0])
        assert math.isfinite(step_s)
    finally:
        if client.poll() is None:
            client.kill()
        client.wait(10)


# --- bad input, before any current flows -------------------------------------------------
def test_bad_ports_scripts_and_setpoints_are_clear_errors_before_any_current(instrument_process):
    port, _ = instrument_process
    with pytest.raises(MethodScriptError, match="cannot open the potentiostat's port"):
        MethodScriptClient("/dev/no-such-potentiostat")
    client = MethodScriptClient(f"socket://127.0.0.1:{port}")
    try:
        with pytest.raises(MethodScriptError, match=r"meas_loop_swv.*0x4001"):
            client.run(["var p", "cell_on", "meas_loop_swv p 1 2 3"], print, print)
    finally:
        client.close()
    pstat = MethodScriptPotentiostat(
        f"socket://127.0.0.1:{port}", config=PotentiostatConfig(), clock=time.time, name="p"
    )
    try:
        with pytest.raises(ComplianceError):
            pstat.current_setpoint.put(1.0)  # 1 A: far beyond compliance
        with pytest.raises(ComplianceError):
            pstat.voltage_setpoint.put(9.0)
        pstat.mode.put("POTENTIOSTATIC")
        with pytest.raises(ComplianceError, match="nan V"):  # a hold with no potential set
            pstat.output.put(1)
        assert not pstat.output.get()
    finally:
        pstat.destroy()


def test_a_pause_leaves_the_instruments_step_running_and_an_abort_sends_z():
    world, instrument, bl = beamline_on_a_pty()
    RE = RunEngine({}, context_managers=[])

    def pause_at_the_first_line(name, doc):  # the step runs: it began before the imaging
        if name in ("event", "event_page") and "raster_row" in doc["data"] and not paused:
            paused.append(name)
            threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()

    paused = []
    token = RE.subscribe(pause_at_the_first_line)
    protocol = [Galvanostatic(c_rate=1.0, until_V=3.0, duration_s=600.0)]
    with pytest.raises(RunEngineInterrupted):
        RE(operando(bl, protocol, ROIS, every_s=60.0, dwell_ms=0.5))
    assert RE.state == "paused"
    assert bl.potentiostat.output.get() and bl.potentiostat.mode.get() == "GALVANOSTATIC"
    assert instrument.running and world.potentiostat.output_on  # no Z at a pause
    RE.unsubscribe(token)
    RE.abort("operator abort")
    assert "aborted (Z)" in instrument.events[-2] and instrument.events[-2].endswith("cell off")
    assert not world.potentiostat.output_on
    assert bl.potentiostat.output.get() == 0 and bl.potentiostat.mode.get() == "OCV"
    bl.potentiostat.destroy()


def test_the_simulator_serves_a_pseudo_terminal_any_serial_program_opens():
    process = subprocess.Popen(
        [sys.executable, "-m", "stxm_operando.cli", "potentiostat-sim", "--pty", "--speed", "50"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        printed = PrintedLines(process)
        line = printed.until("MethodSCRIPT instrument")[-1]
        port = line.rsplit(" on ", 1)[1]
        assert port.startswith("/dev/pts/")
        client = MethodScriptClient(port)  # a serial port, as pyserial opens /dev/ttyACM0
        try:
            assert client.identify().serial_number == "ES4HRSIM0001"
        finally:
            client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
