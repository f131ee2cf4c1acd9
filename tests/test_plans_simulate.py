"""Every public plan runs through bluesky's own simulators (``summarize_plan``,
``check_limits``) with no RunEngine, and every argument error comes when the plan is built,
before a message is yielded, from the beamline's configuration alone.

With no RunEngine no reading comes back (``bps.rd`` gives its default): a step's holds then
advance a nominal clock, so the simulated plan is the nominal protocol and ends.
"""

import pytest
from bluesky import RunEngine
from bluesky.simulators import check_limits, summarize_plan

from stxm_operando.plans import (
    EnergyRegion,
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
    line_spectrum,
    operando,
    point_spectrum,
    rest,
    stack,
    two_energy_image,
)

ROI = ParticleROI(0, -0.9, 0.2, 12, 8)
REGION = [EnergyRegion(706.0, 712.0, 1.0, 1.0)]
NEVER_ENDS = 200_000
"""Messages after which a simulated plan is taken to loop for ever (the longest plan here,
operando with a 4C step imaged every minute, yields about 10,000)."""

PLANS = {
    "operando": lambda bl: operando(
        bl, [Galvanostatic(c_rate=4.0, until_V=3.0), Rest(120.0)], [ROI], every_s=60.0
    ),
    "electrochemistry": lambda bl: electrochemistry(
        bl, [Galvanostatic(c_rate=-2.0, until_capacity=0.1), HoldPotential(3.5, 1e-7)]
    ),
    "galvanostatic": lambda bl: galvanostatic(bl, c_rate=1.0, until_V=3.0),
    "rest": lambda bl: rest(bl, 60.0),
    "hold_potential": lambda bl: hold_potential(bl, 3.45, duration_s=120.0),
    "two_energy_image": lambda bl: two_energy_image(bl, ROI),
    "stack": lambda bl: stack(bl, ROI, [705.0, 708.2, 710.2]),
    "focus_scan": lambda bl: focus_scan(bl, ROI, [-2.0, 0.0, 2.0]),
    "find_particles": lambda bl: find_particles(bl, num_x=20, num_y=16),
    "point_spectrum": lambda bl: point_spectrum(bl, 0.0, 0.0, REGION),
    "line_spectrum": lambda bl: line_spectrum(bl, 0.0, 0.0, 10, REGION),
}


def bounded(plan):
    """The plan's messages, failing if it never ends."""
    for count, message in enumerate(plan):
        assert count < NEVER_ENDS, "the simulated plan never ends"
        yield message


@pytest.fixture(scope="module")
def bluesky_event_loop():
    """``check_limits`` runs the devices' checks on bluesky's event loop, which a RunEngine
    starts; the plans themselves never reach it."""
    return RunEngine({})


@pytest.mark.parametrize("name", PLANS)
def test_every_public_plan_is_summarized_and_limit_checked_by_bluesky(
    name, sim, capsys, bluesky_event_loop
):
    summarize_plan(bounded(PLANS[name](sim)))
    printed = capsys.readouterr().out
    assert "Open Run" in printed and "Close Run" in printed
    check_limits(bounded(PLANS[name](sim)))  # every move within the devices' limits
    assert sim.world.clock_s == 0.0  # nothing ran


def test_a_simulated_operando_protocol_is_the_nominal_one(sim, no_device_io):
    """Built and simulated without touching a device: the 4C lithiation to a cutoff lasts
    its estimate (the whole capacity at 4C, 900 s) and the rest its 120 s, imaged every
    60 s, each step in an image run of its own."""
    no_device_io()
    plan = operando(sim, [Galvanostatic(c_rate=4.0, until_V=3.0), Rest(120.0)], [ROI], every_s=60.0)
    messages = list(bounded(plan))
    opens = [m.kwargs.get("plan_name") for m in messages if m.command == "open_run"]
    assert opens == ["operando", "operando_images", "operando_images"]
    holds = [m.args[0] for m in messages if m.command == "set" and m.obj is sim.clock]
    assert sum(holds) == pytest.approx(900.0 + 120.0)
    frames = [m.args[0] for m in messages if m.command == "set" and m.obj.name == "frame_index"]
    assert frames == list(range(15 + 2))  # a pass at the start of every minute


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda bl: operando(bl, [Galvanostatic(c_rate=40.0, duration_s=60.0)], [ROI]), "beyond"),
        (lambda bl: operando(bl, [Galvanostatic(c_rate=1.0, until_V=9.0)], [ROI]), "window"),
        (lambda bl: electrochemistry(bl, [HoldPotential(1.0, duration_s=5.0)]), "window"),
        (lambda bl: galvanostatic(bl, current_A=float("nan"), duration_s=5.0), "finite"),
        (lambda bl: rest(bl, -1.0), "positive"),
        (lambda bl: two_energy_image(bl, ROI, energies=[400.0, 710.0]), "energy"),
        (lambda bl: stack(bl, ParticleROI(0, 0.0, 0.0, 10, 10), [708.0], dwell_ms=1.0), "two"),
        (lambda bl: point_spectrum(bl, 1e6, 0.0, REGION), "travel"),
    ],
)
def test_bad_arguments_raise_when_the_plan_is_built_without_reading_a_device(
    build, message, sim, no_device_io
):
    no_device_io()
    with pytest.raises(PlanArgumentError, match=message):
        build(sim)


STAGED = {
    "operando": "raster",
    "two_energy_image": "raster",
    "stack": "raster",
    "focus_scan": "raster",
    "find_particles": "raster",
    "line_spectrum": "raster",
    "point_spectrum": "point",
}
"""The detector each plan triggers, which it must stage (an EPICS scaler's ``stage_sigs``
put it in one-shot counting)."""


@pytest.mark.parametrize("name", STAGED)
def test_plans_stage_the_detector_they_trigger_around_their_runs(name, sim):
    detector = getattr(sim, STAGED[name])
    messages = list(bounded(PLANS[name](sim)))
    commands = [m.command for m in messages]
    staged = [i for i, m in enumerate(messages) if m.command == "stage" and m.obj is detector]
    unstaged = [i for i, m in enumerate(messages) if m.command == "unstage" and m.obj is detector]
    assert len(staged) == len(unstaged) == 1
    last_close = len(commands) - 1 - commands[::-1].index("close_run")
    assert staged[0] < commands.index("open_run") and unstaged[0] > last_close
