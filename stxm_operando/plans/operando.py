"""The operando protocol: electrochemistry steps with two-energy images of chosen particles.

One outer run (``plan_name='operando'``) holds the continuous electrochemistry and the
protocol milestones. The images of each protocol step form an inner run
(``plan_name='operando_images'``) with one stream per particle; each imaging pass adds one
event per energy to every stream, tagged with its ``frame_index``. All runs of a protocol
carry the same ``series_id`` and searchable metadata.
"""

import itertools
import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import MsgGenerator

from ..devices import Beamline
from ..streams import ELECTROCHEMISTRY_STREAM
from .dose import DoseTally
from .electrochem import (
    Step,
    arm_protocol,
    check_cutoff_ahead,
    run_step,
    step_as_dict,
    switched_off_afterwards,
)
from .estimates import imaging_pass_s, longest_dwell_ms, protocol_s, step_duration_s
from .imaging import FE_L3_ENERGIES_EV, ParticleROI, check_rois, frame_counter, image_particles
from .metadata import standard_md
from .records import ElectrochemistryRecorder
from .tracking import RoiTracker
from .validation import (
    PlanArgumentError,
    check_dwell,
    check_energies,
    check_flag,
    check_fraction,
    check_md,
    check_period,
    check_positive,
    eager_plan,
    is_number,
    require,
)

OUTER, FRAME = "operando", "frame"


@eager_plan
def operando(
    beamline: Beamline,
    protocol: Sequence[Step],
    particles: Sequence[ParticleROI],
    energies: Sequence[float] = FE_L3_ENERGIES_EV,
    every_s: float = 60.0,
    *,
    dwell_ms: float = 1.0,
    step_nm: float = 40.0,
    sample: str = "LiFePO4",
    initial_soc: float | None = None,
    beam_threshold_mA: float = 10.0,
    track_drift: bool = True,
    md: dict | None = None,
) -> MsgGenerator:
    """Run ``protocol`` while imaging each particle at each energy every ``every_s`` s.

    Every argument is checked before anything moves or any current flows. The current keeps
    flowing during imaging; when the beam is lost, imaging pauses while the electrochemistry
    carries on and is recorded. The cell is left at OCV when the plan ends, fails or is
    aborted; a pause or suspend leaves it running.

    Parameters
    ----------
    beamline : the devices (simulated or EPICS).
    protocol : Galvanostatic / Rest / HoldPotential steps.
    particles : one ParticleROI per particle to image.
    energies : imaging energies, eV (the Fe L3 pair by default).
    every_s : imaging period, s of beamline time.
    dwell_ms, step_nm : raster dwell (ms) and pixel size (nm).
    sample : sample name (searchable).
    initial_soc : Li fraction of the electrode at the start, if known.
    beam_threshold_mA : ring current below which imaging pauses, mA.
    track_drift : before each pass, re-centre each ROI on its particle as its last image
        shows it (``RoiTracker``; the centres are recorded as the ``tracking`` stream).
    md : extra start-document metadata for both runs.

    Besides bluesky's standard keys (``plan_args`` as a queue server would send them,
    ``detectors``, ``hints``), the start documents carry the series as searchable keys.
    """
    energies = check_energies(beamline, energies, count=2)  # what the Li maps are made of
    rois = check_rois(beamline, particles, step_nm, dwell_ms)
    check_period(every_s, "every_s")
    require(
        is_number(beam_threshold_mA) and beam_threshold_mA >= 0,
        f"beam_threshold_mA must be a number >= 0 mA, got {beam_threshold_mA!r}",
    )
    check_dwell(dwell_ms)
    check_positive(step_nm, "step_nm", "nm")
    if initial_soc is not None:
        check_fraction(initial_soc, "initial_soc")
    track_drift = check_flag(track_drift, "track_drift")
    md = check_md(md)
    armed = arm_protocol(beamline, protocol)
    check_pass_fits(beamline, rois, energies, step_nm, dwell_ms, every_s)
    capacity = beamline.config.potentiostat.capacity_Ah
    series = {
        "series_id": str(uuid.uuid4()),
        "sample": sample,
        "particle_ids": [r.particle_id for r in rois],
        "energies": list(energies),
        "pixel_size_nm": step_nm,
        "dwell_ms": dwell_ms,
        "every_s": every_s,
        "capacity_Ah": capacity,
        "c_rates": sorted({round(a.current_A / capacity, 6) for a in armed if a.current_A}),
        "voltage_limits_V": list(beamline.config.potentiostat.voltage_limits_V),
        "initial_soc": initial_soc,
        "estimated_duration_s": protocol_s(armed, beamline.config.potentiostat.capacity_C),
        "estimated_pass_s": imaging_pass_s(beamline.config, rois, energies, step_nm, dwell_ms),
    } | md
    plan_args = {
        "beamline": beamline.name,
        "protocol": [step_as_dict(a.step) for a in armed],
        "particles": [asdict(r) for r in rois],
        "energies": energies,
        "every_s": every_s,
        "dwell_ms": dwell_ms,
        "step_nm": step_nm,
        "sample": sample,
        "initial_soc": initial_soc,
        "beam_threshold_mA": beam_threshold_mA,
        "track_drift": track_drift,
    }
    recorder = ElectrochemistryRecorder(beamline)
    outer_md = standard_md(
        "operando",
        beamline,
        plan_args,
        [beamline.potentiostat, beamline.raster],
        [([recorder.log.name + "_time"], ELECTROCHEMISTRY_STREAM)],
        series | {"protocol": [a.describe() for a in armed], "rois": [asdict(r) for r in rois]},
    )
    image_dimensions = [([beamline.scanner.energy.name], r.stream_name()) for r in rois]
    frame = frame_counter()
    passes = itertools.count()
    tracker = RoiTracker(beamline, rois, energies[0], step_nm)
    trackers = [tracker] if track_drift else []

    def image_md(index: int) -> dict:
        step = armed[index]
        return standard_md(
            "operando_images",
            beamline,
            plan_args,
            [beamline.raster],
            image_dimensions,
            series
            | {
                "protocol_step": index,
                "step_kind": type(step.step).__name__,
                "step_label": step.label,
                "direction": step.direction,
                "c_rate": step.current_A / capacity,
                "estimated_duration_s": step_duration_s(
                    step.step, step.current_A, beamline.config.potentiostat.capacity_C
                ),
            },
        )

    class StepImages:
        """The inner image run of one protocol step, opened at its first imaging pass."""

        def __init__(self, index: int) -> None:
            self.index, self.open = index, False
            self.dose = DoseTally(beamline, rois, step_nm)

        def tick(self):
            # simulated (no RunEngine to read the ring): the beam is there
            ring_mA = yield from bps.rd(beamline.beam.current, default_value=math.inf)
            if ring_mA < beam_threshold_mA:
                reason = f"ring current {ring_mA:.1f} mA < {beam_threshold_mA} mA"
                yield from bpp.set_run_key_wrapper(recorder.record("beam_lost", reason), OUTER)
                return
            if not self.open:
                self.open = True
                yield from bpp.set_run_key_wrapper(bps.open_run(md=image_md(self.index)), FRAME)
            yield from bps.mv(frame, next(passes))
            this_pass = list(tracker.rois)  # one ROI per particle for both energies
            yield from bpp.set_run_key_wrapper(
                image_particles(
                    beamline, this_pass, energies, step_nm, dwell_ms, frame, self.dose, *trackers
                ),
                FRAME,
            )
            if track_drift:
                yield from bpp.set_run_key_wrapper(tracker.record(), FRAME)

        def close(self):
            if self.open:
                yield from bpp.set_run_key_wrapper(self.dose.record(), FRAME)
                yield from bpp.set_run_key_wrapper(bps.close_run(), FRAME)

    def outer():
        yield from check_cutoff_ahead(beamline, armed[0])
        yield from bps.open_run(md=outer_md)
        yield from recorder.start()
        reasons = []
        for index, step in enumerate(armed):
            yield from recorder.set_step(index)
            images = StepImages(index)
            reasons.append(
                (yield from run_step(beamline, step, recorder, every_s, on_tick=images.tick))
            )
            yield from images.close()
        yield from bps.close_run()
        return reasons

    plan = bpp.set_run_key_wrapper(outer(), OUTER)
    plan = bpp.stage_wrapper(plan, [beamline.raster])
    plan = switched_off_afterwards(
        plan, beamline, lambda: bpp.set_run_key_wrapper(recorder.collect_after_switch_off(), OUTER)
    )
    return bpp.rewindable_wrapper(plan, False)


def check_pass_fits(beamline: Beamline, rois, energies, step_nm, dwell_ms, every_s) -> None:
    """An imaging pass of every ROI at every energy must fit in ``every_s``; if it does not,
    say what would (a longer period, a shorter dwell or fewer particles)."""
    config = beamline.config
    pass_s = imaging_pass_s(config, rois, energies, step_nm, dwell_ms)
    if pass_s <= every_s:
        return
    dwell = math.floor(longest_dwell_ms(config, rois, energies, step_nm, every_s) * 1e3) / 1e3
    fitting = [
        n
        for n in range(len(rois), 0, -1)
        if imaging_pass_s(config, rois[:n], energies, step_nm, dwell_ms) <= every_s
    ]
    raise PlanArgumentError(
        f"an imaging pass of {len(rois)} particle(s) at {len(energies)} energies takes "
        f"{pass_s:.1f} s, longer than every_s = {every_s:g} s: use every_s >= "
        f"{math.ceil(pass_s)} s"
        + (f", a dwell <= {dwell:g} ms" if dwell > 0 else "")
        + (f", or at most {fitting[0]} particle(s)" if fitting else "")
    )
