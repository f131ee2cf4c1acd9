"""A PalmSens MethodSCRIPT instrument (an EmStat4 HR) in front of the simulated potentiostat.

It answers the communication protocol (``t`` firmware, ``i`` serial number, ``e`` + script +
empty line, ``Z`` abort) and runs the subset of MethodSCRIPT that step scripts use: ``var``,
``store_var``, ``copy_var``, ``add_var``, ``mul_var``, the pgstat, range and bandwidth
settings, ``set_e``, ``set_i``, ``cell_on``/``cell_off``, ``timer_start``/``timer_get``,
``meas_loop_ocp``, ``meas_loop_cp``, ``meas_loop_ca``, ``pck_*``, ``if``/``breakloop``/``endif``
and ``on_finished:``; anything else is refused with the manual's error code. Its cell is the
simulated beamline's electrode, run by ``sim.potentiostat.PotentiostatModel``: a loop samples
after each model step, so a reading and a ``breakloop`` happen on the model's own clock,
whoever advances it (the beamline's plans, or ``RealTimeDriver`` for a stand-alone instrument).
"""

import logging
import operator
import queue
from collections.abc import Callable
from dataclasses import dataclass, field

from ..limits import ComplianceError, Mode
from ..methodscript.codec import (
    MethodScriptError,
    PackageValue,
    format_package,
    parse_literal,
)
from .potentiostat import PotentiostatModel

FIRMWARE_REPLY = ("tes4_hr14#Dec  1 2026 12:00:00", "R*")
SERIAL_NUMBER = "ES4HRSIM0001"
SETUP_COMMANDS = {
    "set_pgstat_chan",
    "set_pgstat_mode",
    "set_max_bandwidth",
    "set_range",
    "set_autoranging",
    "set_range_minmax",
}
LOOPS = {"meas_loop_ocp": 3, "meas_loop_cp": 5, "meas_loop_ca": 5}  # arguments each takes
BODY_COMMANDS = {"timer_get", "copy_var", "add_var", "mul_var", "pck_start", "pck_add", "pck_end"}
COMPARISONS = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
EMSTAT4_RANGES = {1e-9: 3, 1e-8: 6, 1e-7: 9, 1e-6: 12, 1e-5: 15, 1e-4: 18, 1e-3: 21, 1e-2: 24}
"""EmStat4 current ranges (A) and the index metadata reports them by."""
log = logging.getLogger(__name__)


@dataclass
class _Loop:
    technique: str
    potential_var: str
    current_var: str | None
    setpoint: float
    interval_s: float
    end_s: float
    body: list[tuple[int, list[str]]]
    next_sample_s: float = 0.0


@dataclass
class _Run:
    """A script being run: the lines before, in and after its loop, and its variables."""

    before: list[tuple[int, list[str]]]
    loop: _Loop | None
    after: list[tuple[int, list[str]]]
    finished: list[tuple[int, list[str]]]
    values: dict[str, tuple[float, str]] = field(default_factory=dict)
    timer_start_s: float = 0.0
    sample_time_s: float | None = None  # the reading being taken (None outside the loop)
    package: list[PackageValue] | None = None


def parse_script(lines: list[str]) -> _Run:
    """Split a script into set-up, one measurement loop, what follows and ``on_finished:``;
    MethodScriptError (code and line) for a command, argument or structure it does not know."""
    sections: dict[str, list[tuple[int, list[str]]]] = {"before": [], "after": [], "finished": []}
    section, loop, declared = "before", None, set()
    for number, raw in enumerate(lines, start=1):
        tokens = raw.split("#", 1)[0].split()
        if not tokens:
            continue
        command = tokens[0]
        if command == "var":
            if len(tokens) != 2 or tokens[1] in declared:
                raise MethodScriptError(f"line {number}", code=0x4026 if tokens[1:] else 0x4007)
            declared.add(tokens[1])
        elif command == "on_finished:":
            section = "finished"
            continue
        elif command in LOOPS:
            if loop is not None or section != "before":
                raise MethodScriptError(f"line {number}", code=0x400B)
            if len(tokens) - 1 != LOOPS[command]:
                raise MethodScriptError(f"line {number}", code=0x4007)
            loop = (number, tokens)
            section = "loop"
            sections["loop"] = []
            continue
        elif command == "endloop":
            if section != "loop":
                raise MethodScriptError(f"line {number}", code=0x4018)
            section = "after"
            continue
        elif not (
            command in SETUP_COMMANDS | BODY_COMMANDS
            or command
            in {"store_var", "set_e", "set_i", "cell_on", "cell_off", "timer_start", "if"}
            or command in {"breakloop", "endif"}
        ):
            raise MethodScriptError(f"line {number}", code=0x4001)
        for token in tokens[1:]:
            if token[:1].isalpha() and token not in declared and command not in SETUP_COMMANDS:
                if command == "store_var" and token == tokens[-1]:
                    continue  # its VarType
                if command == "if" and token in COMPARISONS:
                    continue
                raise MethodScriptError(f"line {number}", code=0x420B)
        sections[section].append((number, tokens))
    if section == "loop":
        raise MethodScriptError("the loop has no endloop", code=0x4018)
    measurement = None
    if loop is not None:
        _, tokens = loop
        args = tokens[1:]
        numeric = args[1:] if tokens[0] == "meas_loop_ocp" else args[2:]
        for token in numeric:
            if token[:1].isalpha():
                raise MethodScriptError("a loop argument must be a literal", code=0x4039)
        values = [parse_literal(a) for a in numeric]
        if tokens[0] == "meas_loop_ocp":
            setpoint, (interval, run) = 0.0, values
        else:
            setpoint, interval, run = values
        if interval <= 0 or run <= 0:
            raise MethodScriptError(f"line {loop[0]}", code=0x4204)
        measurement = _Loop(
            tokens[0],
            args[0],
            None if tokens[0] == "meas_loop_ocp" else args[1],
            setpoint,
            interval,
            run,
            sections["loop"],
        )
    return _Run(sections["before"], measurement, sections["after"], sections["finished"])


class MethodScriptInstrument:
    """The instrument's firmware: protocol commands in, reply lines out (``replies``).

    Parameters
    ----------
    potentiostat : the simulated potentiostat it drives (its clock is the instrument's).
    lock : the lock that guards ``potentiostat`` (the simulated beamline's).
    """

    def __init__(self, potentiostat: PotentiostatModel, lock) -> None:
        self.potentiostat, self.lock = potentiostat, lock
        self.replies: queue.Queue[str] = queue.Queue()
        self._receiving: list[str] | None = None
        self._run: _Run | None = None
        self.events: list[str] = []
        """What happened, for a log: scripts started and ended, and why."""
        self.on_event: Callable[[str], None] | None = None
        """Also told each event (the stand-alone simulator prints them)."""
        potentiostat.step_listeners.append(self._sample)

    @property
    def running(self) -> bool:
        return self._run is not None

    def receive(self, line: str) -> None:
        """Handle one line from the host."""
        if self._receiving is not None:
            if line.strip():
                self._receiving.append(line)
                return
            script, self._receiving = self._receiving, None
            self._start(script)
            return
        command = line.strip()
        if command == "t":
            for reply in FIRMWARE_REPLY:
                self.replies.put(reply)
        elif command == "i":
            self.replies.put(f"i{SERIAL_NUMBER}")
        elif command == "Z":
            with self.lock:
                if self._run is None:
                    self.replies.put("Z!0006")
                else:
                    self.replies.put("Z")
                    self._finish("aborted (Z)")
        elif command == "e":
            if self._run is not None:
                self.replies.put("e!0006")
            else:
                self._receiving = []
        elif command:
            self.replies.put(f"{command[0]}!0003")

    # --- a script ------------------------------------------------------------------------
    def _start(self, lines: list[str]) -> None:
        try:
            run = parse_script(lines)
        except MethodScriptError as err:
            where = str(err).split(":")[0].removeprefix("line ")
            line = f": Line {where}" if where.isdigit() else ""
            self.replies.put(f"e!{err.code:04X}{line}")
            return
        with self.lock:
            self.replies.put("e")
            self._run = run
            try:
                self._execute(run, run.before)
                if run.loop is not None:
                    self._begin_loop(run, run.loop)
                else:
                    self._finish("ended")
            except MethodScriptError as err:
                self._fail(err)
            except (ComplianceError, ValueError) as err:  # a setpoint beyond the instrument
                self._fail(MethodScriptError(str(err), code=0x0007))

    def _begin_loop(self, run: _Run, loop: _Loop) -> None:
        pstat = self.potentiostat
        if loop.technique == "meas_loop_ocp":
            if pstat.output_on and pstat.mode is not Mode.OCV:
                raise MethodScriptError("meas_loop_ocp", code=0x0014)
        elif not pstat.output_on:
            raise MethodScriptError(loop.technique, code=0x4027)
        elif loop.technique == "meas_loop_cp":
            pstat.set_current(loop.setpoint)
            pstat.set_mode(Mode.GALVANOSTATIC.value)
        else:
            pstat.set_voltage(loop.setpoint)
            pstat.set_mode(Mode.POTENTIOSTATIC.value)
        pstat.set_step_limits(0.0, 0.0)  # the script decides when the step ends
        start = pstat.time_s
        loop.end_s, loop.next_sample_s = start + loop.end_s, start + loop.interval_s
        self.replies.put(
            {"meas_loop_ocp": "M000B", "meas_loop_cp": "M000A"}.get(loop.technique, "M0007")
        )
        self._event(f"{loop.technique} started at t = {start:.1f} s")

    def _sample(self) -> None:
        """After each model step (under the beamline's lock): the loop's readings due."""
        run = self._run
        if run is None or run.loop is None:
            return
        loop, pstat = run.loop, self.potentiostat
        if pstat.trip_reason and loop.technique != "meas_loop_ocp":
            self._finish(f"the cell tripped: {pstat.trip_reason}")
            return
        # every reading due since the last model step, each at its own time (a model step
        # at rest can span several readings)
        while min(pstat.time_s, loop.end_s) >= loop.next_sample_s - 1e-9:
            run.sample_time_s = loop.next_sample_s
            loop.next_sample_s += loop.interval_s
            potential_type = "da" if loop.technique == "meas_loop_ca" else "ab"  # CA: applied
            run.values[loop.potential_var] = (pstat.voltage_V, potential_type)
            if loop.current_var is not None:
                run.values[loop.current_var] = (pstat.current_A, "ba")
            try:
                broke = self._execute(run, loop.body)
            except MethodScriptError as err:
                self._fail(err)
                return
            if broke:
                self._finish("breakloop")
                return
        if pstat.time_s >= loop.end_s - 1e-9:
            self._finish("its run time")

    def _finish(self, reason: str) -> None:
        """End the loop (``*``), run what follows and ``on_finished:``, end the script."""
        run, self._run = self._run, None
        if run is None:
            return
        if run.loop is not None:
            self.replies.put("*")
        try:
            self._execute(run, run.after)
        finally:
            self._execute(run, run.finished)
            self.replies.put("")
        self._event(
            f"script ended ({reason}) at t = {self.potentiostat.time_s:.1f} s, cell "
            + ("on" if self.potentiostat.output_on else "off")
        )

    def _fail(self, err: MethodScriptError) -> None:
        """A runtime error: ``!XXXX``, and the script stops without ``on_finished:`` (the
        manual, 10.1): the cell stays as it was, for the host to switch off."""
        self.replies.put(f"!{err.code:04X}: {err}")
        self._run = None
        self.replies.put("")
        self._event(f"script failed ({err})")

    def _event(self, text: str) -> None:
        self.events.append(text)
        log.info("%s", text)
        if self.on_event is not None:
            self.on_event(text)

    def _execute(self, run: _Run, commands: list[tuple[int, list[str]]]) -> bool:
        """Run commands; True if a ``breakloop`` was reached."""
        skipping = 0
        for _, tokens in commands:
            command, args = tokens[0], tokens[1:]
            if skipping:
                skipping += {"if": 1, "endif": -1}.get(command, 0)
                continue
            if command == "if":
                if not self._condition(run, args):
                    skipping = 1
            elif command == "breakloop":
                return True
            elif command != "endif":
                self._command(run, command, args)
        return False

    def _value(self, run: _Run, token: str) -> float:
        return run.values[token][0] if token in run.values else parse_literal(token)

    def _condition(self, run: _Run, args: list[str]) -> bool:
        if len(args) != 3 or args[1] not in COMPARISONS:
            raise MethodScriptError("if", code=0x4007)
        return COMPARISONS[args[1]](self._value(run, args[0]), self._value(run, args[2]))

    def _command(self, run: _Run, command: str, args: list[str]) -> None:
        pstat, values = self.potentiostat, run.values
        arithmetic: dict[str, Callable[[float, float], float]] = {
            "add_var": operator.add,
            "mul_var": operator.mul,
        }
        if command == "store_var":
            values[args[0]] = (parse_literal(args[1]), args[2] if len(args) > 2 else "ja")
        elif command == "copy_var":
            values[args[1]] = values.get(args[0], (0.0, "ja"))
        elif command in arithmetic:
            value, var_type = values.get(args[0], (0.0, "ja"))
            values[args[0]] = (arithmetic[command](value, self._value(run, args[1])), var_type)
        elif command == "set_e":
            pstat.set_voltage(self._value(run, args[0]))
        elif command == "set_i":
            pstat.set_current(self._value(run, args[0]))
        elif command == "cell_on":
            pstat.set_output(True)
        elif command == "cell_off":
            pstat.set_output(False)
            pstat.set_mode(Mode.OCV.value)
        elif command == "timer_start":
            run.timer_start_s = pstat.time_s
        elif command == "timer_get":
            now = pstat.time_s if run.sample_time_s is None else run.sample_time_s
            values[args[0]] = (now - run.timer_start_s, "eb")
        elif command == "pck_start":
            run.package = []
        elif command == "pck_add":
            if run.package is None:
                raise MethodScriptError("pck_add", code=0x401B)
            value, var_type = values.get(args[0], (0.0, "ja"))
            run.package.append(self._package_value(var_type, value))
        elif command == "pck_end":
            if run.package is None:
                raise MethodScriptError("pck_end", code=0x401B)
            self.replies.put(format_package(run.package))
            run.package = None

    @staticmethod
    def _package_value(var_type: str, value: float) -> PackageValue:
        if var_type != "ba":
            return PackageValue(var_type, value)
        top = next((r for r in sorted(EMSTAT4_RANGES) if abs(value) <= r), max(EMSTAT4_RANGES))
        status = 0x2 if abs(value) > top else 0x0
        return PackageValue(var_type, value, status, EMSTAT4_RANGES[top])
