"""Finding particles: a coarse two-energy image of a field, thresholded into ROIs."""

from collections.abc import Sequence
from dataclasses import asdict

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import MsgGenerator

from ..analysis.finding import check_margin, survey_field
from ..devices import Beamline
from ..physics.spectra import ReferenceSpectra
from .dose import DoseTally
from .imaging import (
    FE_L3_ENERGIES_EV,
    ParticleROI,
    go_to_raster,
    image_md,
    open_run_with_estimate,
    pass_estimate,
)
from .lines import fly_raster
from .validation import (
    PlanArgumentError,
    check_energies,
    check_positive,
    check_raster,
    eager_plan,
)


@eager_plan
def find_particles(
    beamline: Beamline,
    center_x_um: float = 0.0,
    center_y_um: float = 0.0,
    num_x: int = 100,
    num_y: int = 100,
    step_nm: float = 40.0,
    dwell_ms: float = 0.5,
    energies: Sequence[float] = FE_L3_ENERGIES_EV,
    margin_px: int = 4,
    min_thickness_um: float = 0.05,
    md: dict | None = None,
) -> MsgGenerator:
    """Coarse two-energy image of a field; returns one ParticleROI per particle found.

    The ROIs enclose each particle of the thickness mask with ``margin_px`` to spare
    (``analysis.survey_field``, which the monitor's overview applies to the recorded run).
    """
    energies = check_energies(beamline, energies, count=2)
    (coarse_x, coarse_y), _ = check_raster(
        beamline, center_x_um, center_y_um, num_x, num_y, step_nm, dwell_ms
    )
    check_positive(min_thickness_um, "min_thickness_um", "um")
    try:
        margin_px = check_margin(margin_px)
    except ValueError as err:
        raise PlanArgumentError(str(err)) from None
    field = ParticleROI(-1, center_x_um, center_y_um, num_x, num_y)
    mu = ReferenceSpectra.load_default().mu_matrix(energies)

    plan_args = {
        "center_x_um": center_x_um,
        "center_y_um": center_y_um,
        "num_x": num_x,
        "num_y": num_y,
        "step_nm": step_nm,
        "dwell_ms": dwell_ms,
        "energies": energies,
        "margin_px": margin_px,
        "min_thickness_um": min_thickness_um,
    }
    metadata = image_md(
        "find_particles", beamline, [field], energies, step_nm, dwell_ms, plan_args, md
    )

    def plan():
        yield from open_run_with_estimate(
            beamline, metadata, pass_estimate(beamline, [field], energies, step_nm, dwell_ms)
        )
        images, dose = [], DoseTally(beamline, [field], step_nm)
        for energy in energies:
            yield from bps.mv(beamline.scanner, energy)
            yield from go_to_raster(beamline, field, step_nm, dwell_ms)
            image = yield from fly_raster(
                beamline, field.num_y, [beamline.scanner], field.stream_name()
            )
            dose.add(field.particle_id, image)
            images.append(image)
        yield from dose.record()
        yield from bps.close_run()
        if None in images:  # simulated without devices
            return []
        survey = survey_field(
            images[0].counts,
            images[1].counts,
            mu,
            images[-1].x_um + coarse_x,  # on the sample holder
            images[-1].y_um + coarse_y,
            min_thickness_um,
            margin_px,
        )
        return [ParticleROI(k, **asdict(found)) for k, found in enumerate(survey.particles)]

    return bpp.stage_wrapper(plan(), [beamline.raster])
