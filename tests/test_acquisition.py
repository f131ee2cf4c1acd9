"""Acquisition as a microscope operator relies on it, on the simulated backend and over
Channel Access against the IOC: a focus calibration that persists, plans that know how
long they take, a shutter open only while counting and the dose it let through, spectra
that find the reference peaks, and particles anywhere on the sample holder."""

import bluesky.plan_stubs as bps
import numpy as np
import pytest
from bluesky import RunEngine
from conftest import connect_epics, start_ioc, stop_ioc, unpacked

from stxm_operando.config import BeamlineConfig, ParticleConfig, SimConfig
from stxm_operando.devices import simulated_beamline
from stxm_operando.live_callbacks.lines import ImageAssembler, assembled
from stxm_operando.plans import (
    EnergyRegion,
    Galvanostatic,
    ParticleROI,
    PlanArgumentError,
    Rest,
    electrochemistry,
    find_particles,
    focus_scan,
    line_spectrum,
    operando,
    point_spectrum,
    two_energy_image,
)
from stxm_operando.plans.dose import DoseTally
from stxm_operando.plans.estimates import imaging_pass_s, raster_corners_um
from stxm_operando.plans.imaging import frame_counter, image_particles

ROI = ParticleROI(0, -0.9, 0.2, 34, 22)
SAMPLE_OFF_FOCUS_UM = 3.0
FOCUS_TOML = f"[sim]\nsample_z_offset_um = {SAMPLE_OFF_FOCUS_UM}\ndrift_nm_per_min = 0.0\n"


def recording_engine() -> tuple[RunEngine, list[dict]]:
    RE = RunEngine({}, call_returns_result=True, context_managers=[])
    images, assembler = [], ImageAssembler()

    def take_images(name: str, doc: dict) -> None:
        for name_, doc_ in assembler(name, doc):
            if name_ == "event" and "raster_image" in doc_["data"]:
                images.append(doc_["data"])

    RE.subscribe(take_images)
    return RE, images


def steepest_edge(data: dict) -> float:
    """The largest optical-density step between neighbouring pixels of an image: sharper
    focus, steeper edges. (Not the figure ``focus_scan`` maximises.)"""
    counts = np.clip(np.asarray(data["raster_image"], dtype=float), 1, None)
    return float(np.abs(np.diff(-np.log(counts / data["raster_i0"]), axis=1)).max())


def check_focus_persists(bl) -> None:
    """Nominal focus is 3 um off the sample; after focus_scan and an energy round trip the
    images are sharper by more than noise allows. At 3 um defocus the probe (zone plate
    NA 0.035) has sigma ~46 nm against ~13 nm in focus: with 40 nm pixels the steepest edge
    should be ~2.7x steeper; 1.5x leaves room for counting noise."""
    RE, images = recording_engine()
    RE(two_energy_image(bl, ROI, dwell_ms=1.0))
    nominal = [steepest_edge(d) for d in images[-2:]]
    calibration = RE(focus_scan(bl, ROI, np.arange(-6.0, 6.1, 1.5), dwell_ms=1.0)).plan_result
    assert calibration == pytest.approx(SAMPLE_OFF_FOCUS_UM, abs=0.75)  # half a step
    RE(bps.mv(bl.scanner, 710.2))
    RE(bps.mv(bl.scanner, 708.2))
    uid = RE(two_energy_image(bl, ROI, dwell_ms=1.0)).run_start_uids[0]
    focused = [steepest_edge(d) for d in images[-2:]]
    assert all(f > 1.5 * n for f, n in zip(focused, nominal, strict=True)), (nominal, focused)
    assert uid and bl.scanner.focus_offset.get() == calibration


def test_a_focus_calibration_persists_through_energy_moves():
    config = BeamlineConfig(sim=SimConfig(sample_z_offset_um=SAMPLE_OFF_FOCUS_UM))
    bl = simulated_beamline(config)
    check_focus_persists(bl)
    world = bl.world
    truth = world.positions["zp_z"] - world.focus_z_um(world.positions["energy"])
    assert abs(truth) < 0.75  # the simulator's own optics: the zone plate is in focus


def test_a_focus_calibration_persists_over_channel_access(tmp_path):
    config_file = tmp_path / "beamline.toml"
    config_file.write_text(FOCUS_TOML)
    process = start_ioc("FOC:", speed=200.0, config=config_file)
    try:
        check_focus_persists(connect_epics("FOC:", process))
    finally:
        stop_ioc(process)


def test_the_focus_calibration_is_recorded_with_every_image():
    bl = simulated_beamline()
    RE = RunEngine({}, call_returns_result=True)
    descriptors = []
    RE.subscribe(lambda name, doc: descriptors.append(doc), "descriptor")
    RE(bps.mv(bl.scanner.focus_offset, 2.5))
    RE(two_energy_image(bl, ROI, dwell_ms=0.2))
    (configuration,) = [  # the line stream's flyer carries its devices' configuration
        d["configuration"]["particle_0"]["data"] for d in descriptors if d["name"] == "particle_0"
    ]
    assert configuration[f"{bl.scanner.name}_focus_offset"] == 2.5
    assert configuration[f"{bl.scanner.name}_focus_mode"] == "sample"
    assert configuration[f"{bl.scanner.name}_a0"] == bl.config.zone_plate.a0_um


def test_osa_focus_moves_the_zone_plate_by_a0_and_a0_is_limited():
    bl = simulated_beamline()
    RE = RunEngine({})
    RE(bps.mv(bl.scanner, 708.2))
    sample_focus = bl.scanner.zp_z.position
    RE(bps.mv(bl.scanner.focus_mode, "osa"))
    RE(bps.mv(bl.scanner, 708.2))
    assert bl.scanner.zp_z.position == pytest.approx(sample_focus + bl.scanner.a0.get())
    low, high = bl.config.zone_plate.a0_limits_um(bl.config.mono.energy_limits_eV)
    f_low = bl.config.zone_plate.focus_z_um(700.0) - bl.config.zone_plate.z_offset_um
    assert high == pytest.approx(f_low - bl.config.zone_plate.min_zp_osa_gap_um)
    with pytest.raises(ValueError, match="OSA would hit"):
        bl.scanner.a0.put(low - 1.0)
    with pytest.raises(ValueError, match="focus_mode"):
        bl.scanner.focus_mode.put("detector")


TWO_ROIS = [ParticleROI(0, -0.9, 0.2, 34, 22), ParticleROI(1, 1.1, -0.6, 30, 30)]


def test_the_imaging_pass_estimate_matches_the_simulated_beamlines_clock():
    """Every move, overhead and dwell the plan costs is in the estimate: the simulator's
    clock (travel, backlash, settle, fly-back and line overheads) agrees within 1 %."""
    bl = simulated_beamline()
    RE = RunEngine({})
    energies = (708.2, 710.2)
    last_pixel = raster_corners_um(1.1, -0.6, 30, 30, 40.0)[1]
    RE(bps.mv(bl.scanner, energies[-1]))  # where the previous pass left the beamline
    RE(bps.mv(bl.scanner.fine_x, last_pixel[0], bl.scanner.fine_y, last_pixel[1]))
    before = bl.world.clock_s

    def one_pass():
        yield from bps.open_run()
        dose = DoseTally(bl, TWO_ROIS, 40.0)
        yield from image_particles(bl, TWO_ROIS, energies, 40.0, 2.0, frame_counter(), dose)
        yield from bps.close_run()

    RE(one_pass())
    measured = bl.world.clock_s - before
    estimate = imaging_pass_s(bl.config, TWO_ROIS, energies, 40.0, 2.0)
    assert estimate == pytest.approx(measured, rel=0.01)
    assert measured > 4 * (34 * 22 + 30 * 30) * 2e-3 / 2  # not only the dwell


def test_operando_refuses_a_period_too_short_for_its_imaging_pass():
    bl = simulated_beamline()
    big = [ParticleROI(k, -0.9 + 3 * k, 0.2, 100, 100) for k in range(2)]
    with pytest.raises(
        PlanArgumentError, match=r"takes 9\d\.\d s, longer than every_s = 60"
    ) as err:
        operando(bl, [Galvanostatic(c_rate=1.0, until_V=3.0)], big, every_s=60.0, dwell_ms=2.0)
    message = str(err.value)
    assert "every_s >= 9" in message and "at most 1 particle" in message
    assert bl.world.clock_s == 0.0 and not bl.world.potentiostat.output_on  # nothing moved
    dwell = float(message.split("a dwell <= ")[1].split(" ms")[0])
    operando(bl, [Galvanostatic(c_rate=1.0, until_V=3.0)], big, every_s=60.0, dwell_ms=dwell)


def test_plans_record_how_long_they_will_take():
    bl = simulated_beamline()
    RE = RunEngine({}, call_returns_result=True)
    starts = []
    RE.subscribe(lambda name, doc: starts.append(doc), "start")
    before = bl.world.clock_s
    RE(electrochemistry(bl, [Galvanostatic(c_rate=2.0, until_capacity=0.25)], 30.0))
    assert starts[-1]["estimated_duration_s"] == pytest.approx(450.0)  # 0.25 h / 2 per h
    assert bl.world.clock_s - before == pytest.approx(450.0, abs=2.0)  # the instrument's end
    before = bl.world.clock_s
    RE(two_energy_image(bl, ROI, dwell_ms=1.0))
    # from where the beamline was: the first energy move and the stage's move to the ROI too
    assert starts[-1]["estimated_duration_s"] == pytest.approx(bl.world.clock_s - before, rel=0.01)


def dose_events(documents) -> list[dict]:
    """The ``dose`` stream's events: a particle's totals for a run each."""
    streams = {d["uid"]: d["name"] for n, d in documents if n == "descriptor"}
    return [d["data"] for n, d in documents if n == "event" and streams[d["descriptor"]] == "dose"]


def test_the_shutter_opens_only_for_images_and_the_dose_is_recorded():
    bl = simulated_beamline()
    RE = RunEngine({}, call_returns_result=True)
    documents = []
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    protocol = [Galvanostatic(c_rate=2.0, duration_s=300.0), Rest(120.0)]
    RE(operando(bl, protocol, TWO_ROIS, every_s=60.0, dwell_ms=1.0))
    lines = [e["data"] for n, d in documents for e in unpacked(n, d)]
    lines = [line for line in lines if "raster_counts" in line]
    openings = list(bl.world.shutter.openings)
    assert len(openings) == len(lines) == 2 * 7 * (22 + 30)  # one opening per line, 7 passes
    for (opened, closed), line in zip(openings, lines, strict=True):
        assert opened == line["raster_start_time"] and closed == line["raster_end_time"]
        assert closed - opened == pytest.approx(
            34e-3 if len(line["raster_counts"]) == 34 else 30e-3
        )
    assert not bl.world.shutter.is_open
    # the dose stream of each image run adds up what the shutter let through
    doses = dose_events(documents)
    assert len(doses) == 2 * 2  # each particle's totals in each step's image run
    exposure = sum(d["dose_exposure"] for d in doses)
    assert exposure == pytest.approx(sum(c - o for o, c in openings), rel=1e-9)
    rate = bl.config.detector.i0_rate_hz  # photons/s at full beam: the flux
    for dose in doses:
        assert dose["dose_photons"] == pytest.approx(dose["dose_exposure"] * rate)
        assert dose["dose_gray"] > 0


FE_L3_REGIONS = [
    EnergyRegion(700.0, 706.0, 2.0, 2.0),  # pre-edge: coarse
    EnergyRegion(706.2, 712.0, 0.2, 2.0),  # the L3 edge: fine
    {"start_eV": 713.0, "stop_eV": 719.0, "step_eV": 1.5, "dwell_ms": 2.0},  # as a dict
]


def reference_peaks_eV() -> tuple[float, float]:
    """The shipped reference spectra's Fe L3 maxima (LiFePO4, FePO4), on a 0.01 eV grid."""
    from stxm_operando.physics.spectra import ReferenceSpectra

    spectra = ReferenceSpectra.load_default()
    grid = np.arange(700.0, 720.0, 0.01)
    mu = np.array([spectra.mu(e) for e in grid])
    return float(grid[mu[:, 0].argmax()]), float(grid[mu[:, 1].argmax()])


def lithiated_and_delithiated_platelets() -> BeamlineConfig:
    return BeamlineConfig(
        sim=SimConfig(
            drift_nm_per_min=0.0,
            particles=(
                ParticleConfig(center_um=(-1.0, 0.0), x0=0.98),  # LiFePO4
                ParticleConfig(center_um=(1.0, 0.0), x0=0.02),  # FePO4
            ),
        )
    )


def test_a_line_spectrum_across_two_phases_finds_the_reference_peaks():
    bl = simulated_beamline(lithiated_and_delithiated_platelets())
    RE = RunEngine({}, call_returns_result=True)
    events = []
    RE.subscribe(lambda name, doc: events.extend(e["data"] for e in unpacked(name, doc)))
    RE(line_spectrum(bl, 0.0, 0.0, 80, FE_L3_REGIONS))
    spectra = [e for e in events if "raster_counts" in e]  # one line per energy
    energies = np.array([e["raster_energy"] for e in spectra])
    assert len(energies) == 4 + 30 + 5 and np.all(np.diff(energies) > 0)
    od = np.array([-np.log(np.asarray(e["raster_counts"]) / e["raster_i0"]) for e in spectra])
    x = np.asarray(spectra[0]["raster_x_positions"])
    lfp_peak, fp_peak = reference_peaks_eV()
    for side, peak in ((x < -0.7, lfp_peak), (x > 0.7, fp_peak)):
        particle = od[:, side].mean(axis=1)
        assert energies[particle.argmax()] == pytest.approx(peak, abs=0.2)  # one step


def test_a_point_spectrum_on_a_lithiated_platelet_peaks_at_the_fe2_line():
    bl = simulated_beamline(lithiated_and_delithiated_platelets())
    RE = RunEngine({}, call_returns_result=True)
    events = []
    RE.subscribe(lambda name, doc: events.append(doc["data"]), "event")
    RE(point_spectrum(bl, -1.0, 0.0, FE_L3_REGIONS))
    energies = np.array([e["scanner_energy"] for e in events if "point_counts" in e])
    counts = np.array([e["point_counts"] for e in events if "point_counts" in e])
    assert energies[counts.argmin()] == pytest.approx(reference_peaks_eV()[0], abs=0.2)
    with pytest.raises(PlanArgumentError, match="rise without overlapping"):
        point_spectrum(bl, 0.0, 0.0, [EnergyRegion(705, 710, 1, 1), EnergyRegion(709, 712, 1, 1)])


def far_apart_platelets() -> BeamlineConfig:
    return BeamlineConfig(
        sim=SimConfig(
            particles=(
                ParticleConfig(center_um=(-0.9, 0.2), angle_deg=15.0),
                ParticleConfig(center_um=(300.0, -0.4), angle_deg=-20.0),  # 300 um away
            )
        )
    )


def test_two_particles_300_um_apart_are_imaged_in_one_operando_run():
    """The fine stage reaches +/-50 um: the coarse stage brings each particle within it."""
    bl = simulated_beamline(far_apart_platelets())
    far = [ParticleROI(0, -0.9, 0.2, 34, 22), ParticleROI(1, 300.0, -0.4, 34, 22)]
    RE = RunEngine({}, call_returns_result=True)
    documents = []
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    protocol = [Galvanostatic(c_rate=2.0, duration_s=180.0)]
    RE(operando(bl, protocol, far, every_s=60.0, dwell_ms=1.0))
    streams = {d["uid"]: d["name"] for n, d in documents if n == "descriptor"}
    for particle in (0, 1):
        images = [
            d["data"]
            for n, d in assembled(documents)
            if n == "event"
            and streams[d["descriptor"]] == f"particle_{particle}"
            and "raster_image" in d["data"]
        ]
        assert len(images) == 2 * 3  # two energies, three passes
        for image in images:  # the platelet is in every image, not empty membrane
            counts = np.asarray(image["raster_image"], dtype=float)
            assert counts.min() < 0.6 * image["raster_i0"]
            assert counts.max() > 0.8 * image["raster_i0"]  # and so is the blank around it
    (start,) = [d for n, d in documents if n == "start" and d["plan_name"] == "operando"]
    assert start["estimated_pass_s"] == pytest.approx(
        imaging_pass_s(bl.config, far, (708.2, 710.2), 40.0, 1.0)
    )
    # found by find_particles too, in sample-holder coordinates
    rois = RE(
        find_particles(bl, center_x_um=300.0, center_y_um=0.0, num_x=60, num_y=60)
    ).plan_result
    (roi,) = rois
    assert (roi.center_x_um, roi.center_y_um) == pytest.approx((300.0, -0.4), abs=0.1)


def test_a_particle_300_um_away_is_imaged_over_channel_access(tmp_path):
    config_file = tmp_path / "beamline.toml"
    config_file.write_text(
        "[[sim.particles]]\ncenter_um = [-0.9, 0.2]\n[[sim.particles]]\ncenter_um = [300.0, -0.4]\n"
    )
    process = start_ioc("FAR:", speed=200.0, config=config_file)
    try:
        bl = connect_epics("FAR:", process)
        RE, images = recording_engine()
        RE(two_energy_image(bl, ParticleROI(1, 300.0, -0.4, 34, 22), dwell_ms=1.0))
        assert bl.scanner.coarse_x.position == pytest.approx(300.0)
        for image in images[-2:]:
            counts = np.asarray(image["raster_image"], dtype=float)
            assert counts.min() < 0.6 * image["raster_i0"] < counts.max()
    finally:
        stop_ioc(process)
