"""Live analysis of operando documents: Li maps, dx/dt, j_Ch, j0 and statistics per particle.

The same callback serves a live RunEngine, a 0MQ stream and a replay from the catalog; it
calls ``stxm_operando.analysis`` and holds no science of its own. It is thread-safe: one
thread may feed documents while another (a GUI) reads ``snapshot()``.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from event_model import unpack_event_page

from ..analysis import REFERENCE_OCV_V, frame_exchange_current, place_by_position
from ..analysis.pipeline import FrameAnalysis, ParticleResult, analyse_frame_pair
from ..physics.spectra import ReferenceSpectra
from ..streams import ELECTROCHEMISTRY_STREAM, PROTOCOL_STREAM, DataKeys, particle_id_of
from .lines import GrowingImage, ImageAssembler
from .summary import Summary, SummaryRow

IMAGE_PLANS = ("operando_images", "two_energy_image")
ELECTROCHEMISTRY_FIELDS = (
    "ec_index",
    "ec_time",
    "ec_voltage",
    "ec_current",
    "ec_charge",
    "ec_step",
)

log = logging.getLogger(__name__)


class ElectrochemistryLog:
    """Electrochemistry readings keyed by (series, log index), so each is kept once however
    often it arrives (a resume, a replay)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int], dict] = {}

    def add(self, series_id: str, data: dict) -> None:
        """Keep one ``electrochemistry`` event's data."""
        key = (series_id, int(data["ec_index"]))
        self._rows[key] = {f: data[f] for f in ELECTROCHEMISTRY_FIELDS}

    def arrays(self, series_id: str | None = None) -> dict[str, np.ndarray]:
        """The readings as arrays ordered by index (``time``, ``voltage``, ...)."""
        rows = [
            row
            for (series, _), row in sorted(self._rows.items())
            if series_id is None or series == series_id
        ]
        return {
            f.removeprefix("ec_"): np.array([r[f] for r in rows], dtype=float)
            for f in ELECTROCHEMISTRY_FIELDS
        }


@dataclass(frozen=True)
class FrameRecord:
    """The analysis of one particle in one imaging pass.

    Attributes
    ----------
    counts : the raw images at the two energies (ascending energy).
    voltage_V : cell voltage when the pair was taken, V.
    j0 : exchange current per channel from j_Ch and the overpotential (mA/cm2), or None.
    energies_eV : the energies of ``counts``, eV; pixel_size_nm : the raster step, nm.
    """

    series_id: str
    frame_index: int
    protocol_step: int
    direction: str
    c_rate: float
    particle_id: int
    analysis: FrameAnalysis
    counts: tuple[np.ndarray, np.ndarray]
    voltage_V: float
    j0: np.ndarray | None = None
    energies_eV: tuple[float, ...] = ()
    pixel_size_nm: float = 40.0

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

    def statistics_row(self) -> dict[str, float]:
        """Particle statistics of this frame: <x>, x_surf, x_internal, active and transformed
        fractions, uniformity and the mean j_Ch (mA/cm2; NaN without an earlier frame)."""
        particle = self.particle
        if particle is None:
            return {"mean_x": float("nan")}
        stats = particle.statistics
        return {
            "mean_x": self.mean_fraction,
            "x_surf": stats.mean_surface,
            "x_internal": stats.mean_internal,
            "active_fraction": stats.active_fraction,
            "transformed_fraction": stats.transformed_fraction,
            "uniformity": stats.uniformity,
            "mean_j_ch_mA_cm2": float(np.mean(particle.j_ch))
            if particle.j_ch is not None
            else float("nan"),
        }

    @property
    def li_map(self) -> np.ndarray:
        """Li fraction of the particle's pixels, NaN elsewhere."""
        particle = self.particle
        shown = np.full(self.analysis.x.shape, np.nan)
        if particle is not None:
            box = shown[particle.bbox]
            box[particle.mask] = self.analysis.x[particle.bbox][particle.mask]
        return shown


@dataclass
class Progress:
    """Where the protocol is: step, its label, the last milestone and the beamline time."""

    protocol: list[dict] = field(default_factory=list)
    step: int = 0
    label: str = ""
    last_event: str = ""
    time_s: float = 0.0
    finished: bool = False
    capacity_Ah: float = 0.0


class OperandoAnalysis:
    """Callback ``(name, doc)`` turning image and electrochemistry documents into results.

    Parameters
    ----------
    spectra : reference spectra giving mu at the imaging energies (default: shipped Fe L3).
    min_thickness_um : thinnest pixel kept in a particle, um.
    reference_V : equilibrium voltage for overpotentials, V.
    """

    def __init__(
        self,
        spectra: ReferenceSpectra | None = None,
        min_thickness_um: float = 0.05,
        reference_V: float = REFERENCE_OCV_V,
    ) -> None:
        self.spectra = spectra or ReferenceSpectra.load_default()
        self.min_thickness_um, self.reference_V = min_thickness_um, reference_V
        self.lock = threading.RLock()
        self.frames: list[FrameRecord] = []
        self.progress = Progress()
        self.frame_listeners: list[Callable[[FrameRecord], None]] = []
        """Called with each new FrameRecord (e.g. to publish analysis documents)."""
        self.failures: list[str] = []
        """Frames that could not be analysed or published, and why (the frame is skipped)."""
        self.current_series: str | None = None
        """The newest operando series seen: what ``snapshot()`` shows."""
        self.orphans = 0
        """Events of runs whose start this analysis never saw (it joined mid-run)."""
        self.documents_seen = 0
        self._electrochemistry = ElectrochemistryLog()
        self._assembler = ImageAssembler()
        self._growing: GrowingImage | None = None
        self._starts: dict[str, dict] = {}
        self._streams: dict[str, tuple[str, str]] = {}
        self._images: dict[tuple[str, str, int], dict[float, dict]] = {}
        self._done: set[tuple[str, str, int]] = set()
        self._previous: dict[tuple[str, int], FrameAnalysis] = {}
        self._complete: list[tuple[dict, str, int, list[dict]]] = []  # passes to analyse

    def __call__(self, name: str, doc: dict) -> None:
        try:
            for name_, doc_ in self._assembler(name, doc):
                self._process(name_, doc_)
        finally:
            events = name in ("event", "event_page")
            growing = self._assembler.growing() if events else self._growing
            with self.lock:  # counted once all it brought is in: a reader then sees it whole
                self.documents_seen += 1
                self._growing = growing

    def growing_image(self) -> GrowingImage | None:
        """The raster being flown (or the last one flown), as far as it has come."""
        with self.lock:
            return self._growing

    def _process(self, name: str, doc: dict) -> None:
        with self.lock:  # bookkeeping only: a reader (the GUI) never waits for an analysis
            getattr(self, f"_{name}", lambda doc: None)(doc)
            complete, self._complete = self._complete, []
        for start, stream, frame_index, events in complete:
            try:
                record = self._analyse(start, stream, frame_index, events)
            except Exception as err:  # skip the frame, never stop the acquisition
                self._report(f"{stream} frame {frame_index} not analysed", err)
                continue
            if record is None:
                continue
            with self.lock:
                self.frames.append(record)
            for listener in self.frame_listeners:  # outside the lock: they may do I/O
                try:
                    listener(record)
                except Exception as err:
                    self._report(f"{listener!r} failed on {stream} frame {frame_index}", err)

    # --- documents --------------------------------------------------------------------------
    def _start(self, doc: dict) -> None:
        self._starts[doc["uid"]] = doc
        if doc.get("plan_name") == "operando":
            self.current_series = doc.get("series_id", doc["uid"])
            self.progress = Progress(
                protocol=list(doc.get("protocol", [])),
                capacity_Ah=float(doc.get("capacity_Ah", 0.0)),
            )

    def _descriptor(self, doc: dict) -> None:
        if doc["run_start"] in self._starts:  # else: a run begun before this analysis was
            self._streams[doc["uid"]] = (doc["run_start"], doc.get("name", "primary"))

    def _event_page(self, doc: dict) -> None:
        for event in unpack_event_page(doc):
            self._event(event)

    def _event(self, doc: dict) -> None:
        if doc["descriptor"] not in self._streams:  # joined mid-run: shown from its next run
            self.orphans += 1
            return
        run, stream = self._streams[doc["descriptor"]]
        start = self._starts[run]
        data = doc["data"]
        if stream == ELECTROCHEMISTRY_STREAM:
            self._electrochemistry.add(start.get("series_id", run), data)
            self.progress.time_s = max(self.progress.time_s, float(data["ec_time"]))
        elif stream == PROTOCOL_STREAM:
            step = int(data["protocol_step"])
            self.progress.step, self.progress.last_event = step, data["protocol_event"]
            if data["protocol_event"] == "start":
                self.progress.label = data["protocol_reason"]
            self.progress.time_s = max(self.progress.time_s, float(data["protocol_time"]))
        elif (
            particle_id_of(stream) is not None
            and start.get("plan_name") in IMAGE_PLANS
            and data.get(DataKeys.of_start(start).key("raster", "complete"))  # never half a pair
        ):
            key = (run, stream, int(data.get("frame_index", 0)))
            if key in self._done:
                return  # a replayed reading after a pause: already analysed
            images = self._images.setdefault(key, {})
            energy = float(data[DataKeys.of_start(start).key("raster", "energy")])
            images[round(energy, 3)] = data  # de-duplicates by energy
            if len(images) == len(start["energies"]):
                self._done.add(key)
                del self._images[key]
                self._complete.append((start, stream, key[2], list(images.values())))

    def _stop(self, doc: dict) -> None:
        run = doc["run_start"]
        for key in [k for k in self._images if k[0] == run]:
            del self._images[key]  # an imaging pass cut short
        if self._starts.get(run, {}).get("plan_name") == "operando":
            self.progress.finished = True

    # --- analysis ---------------------------------------------------------------------------
    def _analyse(
        self, start: dict, stream: str, frame_index: int, events: list[dict]
    ) -> FrameRecord | None:
        """The analysis of a complete imaging pass of one particle (outside the lock: only
        the feeding thread touches the series' state)."""
        if len(events) != 2:
            return None
        particle_id = particle_id_of(stream)
        keys = DataKeys.of_start(start)
        raster = {c: keys.key("raster", c) for c in ("energy", "image", "end_time")}
        by_energy = sorted(events, key=lambda e: e[raster["energy"]])
        energies = tuple(float(e[raster["energy"]]) for e in by_energy)
        step_nm = float(start["pixel_size_nm"])
        counts = tuple(
            place_by_position(
                e[raster["image"]],
                e[keys.key("raster", "x_positions")],
                e[keys.key("raster", "y_positions")],
                step_nm,
            )
            for e in by_energy
        )
        mu = self.spectra.mu_matrix(list(energies))
        series = start.get("series_id", start["uid"])
        previous = self._previous.get((series, particle_id))
        if previous is not None and previous.x.shape != counts[0].shape:
            previous = None
        direction = start.get("direction", "")
        result = analyse_frame_pair(
            *counts,
            mu,
            time_s=float(by_energy[-1][raster["end_time"]]),
            pixel_size_nm=step_nm,
            direction=direction if direction in ("lithiation", "delithiation") else "lithiation",
            previous=previous,
            min_thickness=self.min_thickness_um,
        )
        self._previous[(series, particle_id)] = result
        voltages = [e.get(keys.key("potentiostat", "voltage"), np.nan) for e in by_energy]
        voltage = float(np.mean(voltages))
        record = FrameRecord(
            series,
            frame_index,
            int(start.get("protocol_step", 0)),
            direction,
            float(start.get("c_rate", 0.0)),
            particle_id,
            result,
            counts,
            voltage,
            energies_eV=energies,
            pixel_size_nm=step_nm,
        )
        particle = record.particle
        if particle is not None:
            j0 = frame_exchange_current(particle.j_ch, voltage, direction, self.reference_V)
            record = FrameRecord(**{**vars(record), "j0": j0})
        return record

    def _report(self, what: str, err: Exception) -> None:
        self.failures.append(f"{what}: {type(err).__name__}: {err}")
        log.warning("%s", self.failures[-1], exc_info=err)

    # --- results ----------------------------------------------------------------------------
    def electrochemistry(self, series_id: str | None = None) -> dict[str, np.ndarray]:
        """Electrochemistry readings (each logged index once), as arrays ordered by index."""
        with self.lock:
            return self._electrochemistry.arrays(series_id)

    def snapshot(self) -> tuple[list[FrameRecord], Progress, int]:
        """A consistent copy of the frames so far (of the newest operando series, once one
        has started), the progress and the document count."""
        with self.lock:
            series = self.current_series
            frames = [f for f in self.frames if series is None or f.series_id == series]
            return frames, Progress(**vars(self.progress)), self.documents_seen

    def summary(self, soc: float = 0.5) -> Summary:
        """Per direction and particle: statistics of the frame whose particle-mean Li fraction
        is nearest ``soc`` (the paper's Fig. 5b/5c at SoC 0.5)."""
        best: dict[tuple[str, int], FrameRecord] = {}
        for frame in self.snapshot()[0]:
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
        return Summary(rows)
