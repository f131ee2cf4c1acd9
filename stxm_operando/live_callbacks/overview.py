"""The field a ``find_particles`` run imaged, and the particles it found there: what the
monitor's overview shows. The particles are found by the function the plan itself uses
(``analysis.survey_field``), from the run's recorded images and positions."""

import logging
from dataclasses import dataclass

import numpy as np
from event_model import DocumentRouter

from ..analysis.finding import FoundParticle, survey_field
from ..physics.spectra import ReferenceSpectra
from ..streams import DataKeys
from .series import SeriesIndex

FIND_PLAN = "find_particles"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldOverview:
    """One surveyed field.

    Attributes
    ----------
    run_uid : the find_particles run's uid.
    thickness : apparent thickness (um), rows along y and columns along x.
    origin_um : holder (x, y) of pixel (0, 0)'s centre, um (the fine stage's recorded
        positions plus the coarse stage's).
    step_um : pixel size, um.
    particles : the boxes found, centred in holder coordinates (um), sizes in pixels.
    energies_eV : the two energies of the survey.
    """

    run_uid: str
    thickness: np.ndarray
    origin_um: tuple[float, float]
    step_um: float
    particles: list[FoundParticle]
    energies_eV: tuple[float, float]


class FieldSurveyor(DocumentRouter):
    """Keeps the newest ``find_particles`` run's overview (``overview``), made once both of
    its images are in. A survey that fails (no blank membrane in the field) is logged and
    the previous overview kept."""

    def __init__(self, index: SeriesIndex, spectra: ReferenceSpectra) -> None:
        super().__init__()
        self.index, self.spectra = index, spectra
        self._images: dict[str, dict[float, dict]] = {}
        self.overview: FieldOverview | None = None

    def event(self, doc: dict) -> None:
        located = self.index.locate(doc)
        if located is None or located[0].get("plan_name") != FIND_PLAN:
            return
        start = located[0]
        keys, data = DataKeys.of_start(start), doc["data"]
        if keys.key("raster", "image") not in data:
            return
        images = self._images.setdefault(start["uid"], {})
        images[round(float(data[keys.key("raster", "energy")]), 3)] = data
        if len(images) == len(start["energies"]) == 2:
            del self._images[start["uid"]]
            try:
                self.overview = self._survey(start, keys, images)
            except ValueError as err:
                log.warning("the field of run %s was not surveyed: %s", start["uid"], err)

    def stop(self, doc: dict) -> None:
        self._images.pop(doc["run_start"], None)

    def _survey(self, start: dict, keys: DataKeys, images: dict[float, dict]) -> FieldOverview:
        energies = sorted(images)
        low, high = (images[e] for e in energies)

        def holder(axis: str) -> np.ndarray:  # fine positions plus the coarse stage's
            fine = np.asarray(high[keys.key("raster", f"{axis}_positions")], dtype=float)
            return fine + float(high.get(keys.key("scanner", f"coarse_{axis}"), 0.0))

        x_um, y_um = holder("x"), holder("y")
        arguments = start.get("plan_args", {})
        survey = survey_field(
            np.asarray(low[keys.key("raster", "image")], dtype=float),
            np.asarray(high[keys.key("raster", "image")], dtype=float),
            self.spectra.mu_matrix(energies),
            x_um,
            y_um,
            min_thickness_um=float(arguments.get("min_thickness_um", 0.05)),
            margin_px=int(arguments.get("margin_px", 4)),
        )
        return FieldOverview(
            start["uid"],
            survey.thickness,
            (float(np.nanmin(x_um)), float(np.nanmin(y_um))),
            float(start["pixel_size_nm"]) / 1e3,
            survey.particles,
            (energies[0], energies[1]),
        )
