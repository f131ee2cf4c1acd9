"""Live analysis of operando documents: Li maps, dx/dt, j_Ch, j0 and statistics per particle.

The same callback serves a live RunEngine, a 0MQ stream and a replay from the catalog. It
is a composition of parts with one role each: the ``ImageAssembler`` puts line events
together into images; the document routers of ``series`` index the runs, keep the
electrochemistry log, follow the protocol and collect complete imaging passes; the
``FrameAnalyser`` hands each pass to the pure pipeline of ``stxm_operando.analysis``;
``summarize`` makes the paper's table. It is thread-safe: one thread may feed documents
while another (a GUI) reads ``snapshot()``.
"""

import logging
import threading
from collections.abc import Callable

import numpy as np
from event_model import DocumentNames, unpack_event_page

from ..analysis import REFERENCE_OCV_V
from ..physics.spectra import ReferenceSpectra
from .frames import FrameAnalyser, FrameRecord
from .lines import GrowingImage, ImageAssembler
from .overview import FieldOverview, FieldSurveyor
from .series import (
    ElectrochemistryLog,
    ImagingPass,
    PassCollector,
    Progress,
    ProgressTracker,
    SeriesIndex,
)
from .summary import Summary, summarize

DOCUMENT_NAMES = frozenset(name.value for name in DocumentNames)
log = logging.getLogger(__name__)


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
        self.reference_V = reference_V
        self.lock = threading.RLock()
        self.frames: list[FrameRecord] = []
        self.frame_listeners: list[Callable[[FrameRecord], None]] = []
        """Called with each new FrameRecord (e.g. to publish analysis documents)."""
        self.failures: list[str] = []
        """Frames that could not be analysed or published, and why (the frame is skipped)."""
        self.documents_seen = 0
        self._assembler = ImageAssembler()
        self._growing: GrowingImage | None = None
        self._index = SeriesIndex()
        self._electrochemistry = ElectrochemistryLog(self._index)
        self._tracker = ProgressTracker(self._index)
        self._passes = PassCollector(self._index)
        self._surveyor = FieldSurveyor(self._index, self.spectra)
        self._routers = (
            self._index,
            self._electrochemistry,
            self._tracker,
            self._passes,
            self._surveyor,
        )
        self._analyse = FrameAnalyser(self.spectra, min_thickness_um, reference_V)

    @property
    def progress(self) -> Progress:
        """Where the newest operando series' protocol is."""
        return self._tracker.progress

    @property
    def current_series(self) -> str | None:
        """The newest operando series seen: what ``snapshot()`` shows."""
        return self._tracker.series_id

    @property
    def orphans(self) -> int:
        """Events of runs whose start this analysis never saw (it joined mid-run)."""
        return self._index.orphans

    def __call__(self, name: str, doc: dict) -> None:
        try:
            for name_, doc_ in self._assembler(name, doc):
                self._route(name_, doc_)
        finally:
            events = name in ("event", "event_page")
            growing = self._assembler.growing() if events else self._growing
            with self.lock:  # counted once all it brought is in: a reader then sees it whole
                self.documents_seen += 1
                self._growing = growing

    def overview(self) -> FieldOverview | None:
        """The newest field surveyed by ``find_particles``, with the particles found."""
        with self.lock:
            return self._surveyor.overview

    def growing_image(self) -> GrowingImage | None:
        """The raster being flown (or the last one flown), as far as it has come."""
        with self.lock:
            return self._growing

    def _route(self, name: str, doc: dict) -> None:
        if name not in DOCUMENT_NAMES:
            return  # not a bluesky document (a 0MQ ping)
        documents = (
            [("event", e) for e in unpack_event_page(doc)]
            if name == "event_page"
            else [(name, doc)]
        )
        with self.lock:  # bookkeeping only: a reader (the GUI) never waits for an analysis
            for name_, doc_ in documents:
                for router in self._routers:
                    router(name_, doc_)
            complete = self._passes.take()
        for imaging_pass in complete:
            self._add_frame(imaging_pass)

    def _add_frame(self, imaging_pass: ImagingPass) -> None:
        what = f"{imaging_pass.stream} frame {imaging_pass.frame_index}"
        try:
            record = self._analyse(imaging_pass)  # outside the lock: only this thread's
        except Exception as err:  # skip the frame, never stop the acquisition
            self._report(f"{what} not analysed", err)
            return
        if record is None:
            return
        with self.lock:
            self.frames.append(record)
        for listener in self.frame_listeners:  # outside the lock: they may do I/O
            try:
                listener(record)
            except Exception as err:
                self._report(f"{listener!r} failed on {what}", err)

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
        return summarize(self.snapshot()[0], soc)
