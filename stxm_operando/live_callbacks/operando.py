"""Live analysis of operando documents: Li maps, j_Ch and statistics per particle and frame.

The same callback serves a live RunEngine, a 0MQ stream and a replay from the catalog; it
calls ``stxm_operando.analysis`` and holds no science of its own.
"""

from dataclasses import dataclass

import numpy as np
from event_model import unpack_event_page

from ..analysis.pipeline import FrameAnalysis, ParticleResult, analyse_frame_pair
from ..physics.spectra import ReferenceSpectra

IMAGE_PLANS = ("operando_images", "two_energy_image")
ELECTROCHEMISTRY_FIELDS = (
    "ec_index",
    "ec_time",
    "ec_voltage",
    "ec_current",
    "ec_charge",
    "ec_step",
)


@dataclass(frozen=True)
class FrameRecord:
    """The analysis of one particle in one imaging pass."""

    series_id: str
    frame_index: int
    protocol_step: int
    direction: str
    c_rate: float
    particle_id: int
    analysis: FrameAnalysis

    @property
    def particle(self) -> ParticleResult | None:
        """The particle nearest the centre of the ROI (neighbours may show at the edges)."""
        if not self.analysis.particles:
            return None
        centre = np.array(self.analysis.x.shape) / 2 - 0.5
        return min(
            self.analysis.particles, key=lambda p: np.hypot(*(np.array(p.axes.center) - centre))
        )

    @property
    def mean_fraction(self) -> float:
        """Mean Li fraction of the particle (NaN if none was found)."""
        particle = self.particle
        if particle is None:
            return float("nan")
        return float(np.nanmean(self.analysis.x[particle.bbox][particle.mask]))


@dataclass(frozen=True)
class SummaryRow:
    """Surface statistics of one particle at the frame nearest a state of charge."""

    direction: str
    particle_id: int
    c_rate: float
    frame_index: int
    mean_fraction: float
    mean_surface: float
    mean_internal: float
    active_fraction: float
    transformed_fraction: float


class OperandoAnalysis:
    """Callback ``(name, doc)`` turning image and electrochemistry documents into results.

    Parameters
    ----------
    spectra : reference spectra giving mu at the imaging energies (default: shipped Fe L3).
    min_thickness_um : thinnest pixel kept in a particle, um.
    """

    def __init__(
        self, spectra: ReferenceSpectra | None = None, min_thickness_um: float = 0.05
    ) -> None:
        self.spectra = spectra or ReferenceSpectra.load_default()
        self.min_thickness_um = min_thickness_um
        self.frames: list[FrameRecord] = []
        self._electrochemistry: dict[tuple[str, int], dict] = {}
        self._starts: dict[str, dict] = {}
        self._streams: dict[str, tuple[str, str]] = {}
        self._images: dict[tuple[str, str, int], list[dict]] = {}
        self._previous: dict[tuple[str, int], FrameAnalysis] = {}

    def __call__(self, name: str, doc: dict) -> None:
        getattr(self, f"_{name}", lambda doc: None)(doc)

    # --- documents --------------------------------------------------------------------------
    def _start(self, doc: dict) -> None:
        self._starts[doc["uid"]] = doc

    def _descriptor(self, doc: dict) -> None:
        self._streams[doc["uid"]] = (doc["run_start"], doc.get("name", "primary"))

    def _event_page(self, doc: dict) -> None:
        for event in unpack_event_page(doc):
            self._event(event)

    def _event(self, doc: dict) -> None:
        run, stream = self._streams[doc["descriptor"]]
        start = self._starts[run]
        data = doc["data"]
        if stream == "electrochemistry":
            key = (start.get("series_id", run), int(data["ec_index"]))
            self._electrochemistry[key] = {f: data[f] for f in ELECTROCHEMISTRY_FIELDS}
        elif stream.startswith("particle_") and start.get("plan_name") in IMAGE_PLANS:
            key = (run, stream, int(data.get("frame_index", 0)))
            images = self._images.setdefault(key, [])
            images.append(data)
            if len(images) == len(start["energies"]):
                del self._images[key]
                self._analyse(start, int(stream.removeprefix("particle_")), key[2], images)

    def _stop(self, doc: dict) -> None:
        run = doc["run_start"]
        for key in [k for k in self._images if k[0] == run]:
            del self._images[key]  # an imaging pass cut short

    # --- analysis ---------------------------------------------------------------------------
    def _analyse(self, start: dict, particle_id: int, frame_index: int, events: list[dict]) -> None:
        if len(events) != 2:
            return
        by_energy = sorted(events, key=lambda e: e["raster_energy"])
        counts = [np.asarray(e["raster_image"], dtype=float) for e in by_energy]
        mu = self.spectra.mu_matrix([float(e["raster_energy"]) for e in by_energy])
        series = start.get("series_id", start["uid"])
        previous = self._previous.get((series, particle_id))
        if previous is not None and previous.x.shape != counts[0].shape:
            previous = None
        result = analyse_frame_pair(
            *counts,
            mu,
            time_s=float(by_energy[-1]["raster_end_time"]),
            pixel_size_nm=float(start["pixel_size_nm"]),
            direction=start.get("direction", "lithiation")
            if start.get("direction") in ("lithiation", "delithiation")
            else "lithiation",
            previous=previous,
            min_thickness=self.min_thickness_um,
        )
        self._previous[(series, particle_id)] = result
        self.frames.append(
            FrameRecord(
                series,
                frame_index,
                int(start.get("protocol_step", 0)),
                start.get("direction", ""),
                float(start.get("c_rate", 0.0)),
                particle_id,
                result,
            )
        )

    # --- results ----------------------------------------------------------------------------
    def electrochemistry(self, series_id: str | None = None) -> dict[str, np.ndarray]:
        """Electrochemistry readings (each logged index once), as arrays ordered by index."""
        rows = [
            row
            for (series, _), row in sorted(self._electrochemistry.items())
            if series_id is None or series == series_id
        ]
        return {
            f.removeprefix("ec_"): np.array([r[f] for r in rows], dtype=float)
            for f in ELECTROCHEMISTRY_FIELDS
        }

    def summary(self, soc: float = 0.5) -> list[SummaryRow]:
        """Per direction and particle: statistics of the frame whose particle-mean Li fraction
        is nearest ``soc`` (the paper's Fig. 5b/5c at SoC 0.5)."""
        best: dict[tuple[str, int], FrameRecord] = {}
        for frame in self.frames:
            if frame.direction not in ("lithiation", "delithiation") or frame.particle is None:
                continue
            key = (frame.direction, frame.particle_id)
            if key not in best or abs(frame.mean_fraction - soc) < abs(
                best[key].mean_fraction - soc
            ):
                best[key] = frame
        rows = []
        for (direction, particle_id), frame in sorted(best.items()):
            stats = frame.particle.statistics
            rows.append(
                SummaryRow(
                    direction,
                    particle_id,
                    frame.c_rate,
                    frame.frame_index,
                    frame.mean_fraction,
                    stats.mean_surface,
                    stats.mean_internal,
                    stats.active_fraction,
                    stats.transformed_fraction,
                )
            )
        return rows
