"""Progress where work is long: the protocol's time elapsed and left, from each step's own
estimate, as the monitor shows it and the IPython session prints it. The truth is when the
simulated run's steps really ended."""

import io

from stxm_operando.devices import simulated_beamline
from stxm_operando.live_callbacks import OperandoAnalysis
from stxm_operando.live_callbacks.report import ProtocolReporter
from stxm_operando.plans import Galvanostatic, ParticleROI, Rest, operando
from stxm_operando.run_engine import make_run_engine

ROI = ParticleROI(0, -0.9, 0.2, 20, 14)
EVERY_S = 60.0


def test_time_left_bounds_the_truth_and_is_exact_once_only_a_rest_remains():
    bl = simulated_beamline()
    RE = make_run_engine(bl, context_managers=[])
    analysis, printed = OperandoAnalysis(), io.StringIO()
    RE.subscribe(analysis)
    RE.subscribe(ProtocolReporter(printed))
    samples = []  # (beamline time, elapsed, left, step) as the monitor would show them

    def sample(name, doc):
        progress = analysis.progress
        if name == "event_page" and progress.protocol:
            samples.append((progress.time_s, progress.elapsed_s, progress.left_s, progress.step))

    RE.subscribe(sample)
    protocol = [Galvanostatic(c_rate=6, until_V=3.3), Rest(300.0)]  # 6C dips below 3.3 V
    RE(operando(bl, protocol, [ROI], every_s=EVERY_S, dwell_ms=0.2))
    progress = analysis.progress
    end_s = progress.time_s
    assert progress.finished and progress.left_s == 0.0
    full_s = 3600.0 / 6  # the lithiation's bound: the whole capacity at 6C
    lithiation_s = progress.started_s[1] - progress.started_s[0]
    assert lithiation_s < full_s  # the cutoff came first: the bound was an overestimate
    for time_s, elapsed, left, step in samples:
        truth = end_s - time_s
        assert elapsed == time_s - progress.started_s[0]
        assert truth <= left + EVERY_S  # an upper bound (to the imaging tick it ends on)
        if step == 1:  # once the lithiation has ended, only the rest's own 300 s are left
            assert abs(left - truth) <= EVERY_S
    assert any(step == 0 for *_, step in samples) and any(step == 1 for *_, step in samples)
    lines = printed.getvalue().splitlines()
    assert [line.split(" ", 2)[1] for line in lines] == ["1/2", "1/2", "2/2", "2/2"]
    assert lines[0].startswith("step 1/2 +6C lithiation started; cell 3.")
    assert lines[0].endswith("0 s elapsed, at most 15 min left")  # 6C: 600 s at most, + 300 s
    assert "ended (lower cutoff 3.300 V crossed" in lines[1]
    assert lines[1].endswith("at most 5 min left")  # the lithiation is over: the rest's 300 s
    assert lines[-1].startswith("step 2/2 rest 300 s ended (duration 300 s)")
    assert lines[-1].endswith("at most 0 s left")


def test_a_stack_reports_its_images_and_the_time_they_still_take():
    """About ``lines`` lines, the first and the last image among them; the time left after
    half the images (from the pace so far) is the time the rest then really took, to the
    second the lines are printed in and a tenth for the energy moves' differences."""
    import re

    import numpy as np

    from stxm_operando.live_callbacks.report import ImageReporter
    from stxm_operando.plans import stack

    bl = simulated_beamline()
    RE = make_run_engine(bl, context_managers=[])
    printed = io.StringIO()
    RE.subscribe(ImageReporter(printed, lines=6))
    energies = np.round(np.arange(705.0, 709.41, 0.4), 2)  # 12 energies
    RE(stack(bl, ROI, energies, dwell_ms=4.0))
    lines = printed.getvalue().splitlines()
    pattern = (
        r"stack: image (\d+)/12 \(particle 0 at ([\d.]+) eV\); "
        r"(\d+) s elapsed, about (\d+) s left"
    )
    parsed = [re.fullmatch(pattern, line) for line in lines]
    assert all(parsed), lines
    done = [int(p[1]) for p in parsed]
    assert done == [1, 2, 4, 6, 8, 10, 12]
    assert [float(p[2]) for p in parsed] == [energies[k - 1] for k in done]
    elapsed = {k: int(p[3]) for k, p in zip(done, parsed, strict=True)}
    left = {k: int(p[4]) for k, p in zip(done, parsed, strict=True)}
    assert left[12] == 0 and elapsed[12] >= 12 * ROI.num_x * ROI.num_y * 4e-3
    truth = elapsed[12] - elapsed[6]
    assert abs(left[6] - truth) <= 1 + 0.1 * truth
