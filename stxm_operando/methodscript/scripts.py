"""The MethodSCRIPT that one protocol step becomes, so that the instrument runs the step on
its own: its duration, its charge and its voltage cutoffs are checked in the script, and
``on_finished: cell_off`` opens the circuit however the script ends (by its limits, by
``Z``, or with the client gone).

The loops and their arguments follow the manual (chapter 14) and PalmSens' examples:
``meas_loop_ocp E t_interval t_run``, ``meas_loop_cp E I I_dc t_interval t_run`` and
``meas_loop_ca E I E_dc t_interval t_run``; each reading is one package of time (``eb``),
potential (``ab`` measured, ``da`` applied) and current (``ba``). A potentiostatic step with a
charge limit also integrates its charge in the script (``ja``, C) to break on it; otherwise
the host integrates the charge, so the script uses only the commands every MethodSCRIPT
instrument (and simulator) knows.
"""

from dataclasses import dataclass

from ..limits import Mode
from .codec import format_literal

PGSTAT_LOW_SPEED = 2
"""``set_pgstat_mode`` 2: low speed, the mode for slow electrochemistry (EmStat4)."""
BANDWIDTH_HZ = 40
"""``set_max_bandwidth``: a few times the reading rate, filtering line noise."""
LONGEST_RUN_S = 1e6
"""The run time a step without a duration is given (11.6 days): a meas loop needs one."""


@dataclass(frozen=True)
class StepProgram:
    """What one step asks of the instrument.

    Attributes
    ----------
    mode : OCV (rest), GALVANOSTATIC or POTENTIOSTATIC.
    current_A : the applied current (positive lithiates), A; galvanostatic.
    voltage_V : the held potential, V; potentiostatic.
    lower_V, upper_V : cutoffs ending a galvanostatic step, V.
    duration_s : the step's length, s (0: none).
    capacity_C : the charge ending the step, C (0: none).
    interval_s : time between readings, s.
    current_range_A : the current range to measure in (autoranging up to ``max_range_A``), A.
    """

    mode: Mode
    current_A: float = 0.0
    voltage_V: float = 0.0
    lower_V: float = 0.0
    upper_V: float = 0.0
    duration_s: float = 0.0
    capacity_C: float = 0.0
    interval_s: float = 1.0
    current_range_A: float = 1e-6
    max_range_A: float = 1e-3

    def run_time_s(self) -> float:
        """The loop's run time: the duration, shortened at constant current to the time the
        charge limit takes (|Q| / |I|)."""
        run = self.duration_s or LONGEST_RUN_S
        if self.mode is Mode.GALVANOSTATIC and self.capacity_C and self.current_A:
            run = min(run, self.capacity_C / abs(self.current_A))
        return run


def step_script(program: StepProgram) -> list[str]:
    """The script lines (without the ``e`` that starts them and the empty line that ends them)."""
    lit = format_literal
    interval, run = lit(program.interval_s), lit(program.run_time_s())
    counts_charge = program.mode is Mode.POTENTIOSTATIC and bool(program.capacity_C)
    lines = ["var p", "var i", "var t"] + (["var q", "var dq", "store_var q 0 ja"] * counts_charge)
    lines += [
        "set_pgstat_chan 0",
        f"set_pgstat_mode {PGSTAT_LOW_SPEED}",
        f"set_max_bandwidth {BANDWIDTH_HZ}",
        f"set_range ba {lit(program.current_range_A)}",
        f"set_autoranging ba {lit(program.current_range_A)} {lit(program.max_range_A)}",
    ]
    if program.mode is Mode.OCV:
        lines += ["cell_off", "timer_start", f"meas_loop_ocp p {interval} {run}"]
    elif program.mode is Mode.GALVANOSTATIC:
        lines += [
            "set_i 0",
            "cell_on",
            "timer_start",
            f"meas_loop_cp p i {lit(program.current_A)} {interval} {run}",
        ]
    else:
        lines += [
            f"set_e {lit(program.voltage_V)}",
            "cell_on",
            "timer_start",
            f"meas_loop_ca p i {lit(program.voltage_V)} {interval} {run}",
        ]
    lines += ["  timer_get t"]
    if counts_charge:
        lines += ["  copy_var i dq", f"  mul_var dq {interval}", "  add_var q dq"]
    added = ["t", "p"] + (["i"] if program.mode is not Mode.OCV else []) + ["q"] * counts_charge
    lines += ["  pck_start", *(f"    pck_add {name}" for name in added), "  pck_end"]
    if program.mode is Mode.GALVANOSTATIC:
        lines += _break_if(f"p < {lit(program.lower_V)}") + _break_if(f"p > {lit(program.upper_V)}")
    if counts_charge:
        capacity = lit(program.capacity_C)
        lines += _break_if(f"q > {capacity}") + _break_if(f"q < {lit(-program.capacity_C)}")
    return [*lines, "endloop", "on_finished:", "  cell_off"]


def _break_if(condition: str) -> list[str]:
    return [f"  if {condition}", "    breakloop", "  endif"]
