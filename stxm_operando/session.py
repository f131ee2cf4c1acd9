"""The IPython session: RunEngine with the catalog, devices, plans and analysis at hand.

The catalog opens on a thread of its own (building tiled's in-process server takes seconds),
so the prompt appears at once; the session's first use of it waits for it to be ready.
"""

import atexit
import threading

import numpy as np

from . import analysis, plans
from .config import BeamlineConfig, tiled_api_key
from .devices import epics_beamline, simulated_beamline
from .live_callbacks import OperandoAnalysis, json_publisher
from .run_engine import analyse_off_the_run_engine, make_run_engine
from .storage import Catalog, CatalogWriter, open_catalog

BANNER = """stxm-operando session ({backend} beamline)
  devices : {devices}
  RE      : RunEngine, storing into {catalog}{publish}
  live    : `live` (OperandoAnalysis, off the RunEngine thread): live.summary(), live.frames
  plans   : find_particles, two_energy_image, stack, focus_scan, point_spectrum,
            line_spectrum, galvanostatic, rest, hold_potential, electrochemistry, operando
            (+ Galvanostatic, Rest, HoldPotential, ParticleROI, EnergyRegion)
  analysis: `an` (stxm_operando.analysis); `catalog.search(sample=...)`, `bl` (all devices)
example : rois = RE(find_particles(bl)).plan_result
          RE(operando(bl, [Galvanostatic(c_rate=4, until_V=3.0), Rest(600)], rois))"""


class OpeningCatalog:
    """A catalog being opened on a thread of its own. Attributes are the catalog's: using one
    waits until it is open, and raises what opening it raised (e.g. CatalogError)."""

    def __init__(self, location: str, api_key: str | None = None) -> None:
        self.location = location
        self._catalog: Catalog | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._open, args=(api_key,), name="catalog-open")
        self._thread.start()

    def _open(self, api_key: str | None) -> None:
        try:
            self._catalog = open_catalog(self.location, api_key=api_key)
        except Exception as err:  # raised where the catalog is used
            self._error = err

    def result(self) -> Catalog:
        """The open catalog (waits for it)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._catalog

    def __getattr__(self, name: str):
        return getattr(self.result(), name)

    def __repr__(self) -> str:
        return repr(self._catalog) if self._catalog else f"Catalog({self.location!r}, opening)"


class SessionWriter:
    """The session's RunEngine callback storing into an ``OpeningCatalog``: its first
    document waits for the catalog, then everything goes to the catalog's writer."""

    def __init__(self, catalog: OpeningCatalog) -> None:
        self._catalog = catalog
        self._writer: CatalogWriter | None = None
        self._lock = threading.Lock()

    def writer(self) -> CatalogWriter:
        """The catalog's writer (waits for the catalog)."""
        with self._lock:
            if self._writer is None:
                self._writer = self._catalog.result().writer()
            return self._writer

    def __call__(self, name: str, doc: dict) -> None:
        self.writer()(name, doc)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every document so far is in the catalog (``CatalogWriter.flush``)."""
        self.writer().flush(timeout)


def build_session(
    config: BeamlineConfig | None = None, backend: str | None = None
) -> tuple[dict, str]:
    """The namespace and banner of a session; ``backend`` overrides the config's."""
    config = config or BeamlineConfig()
    session = config.session
    backend = backend or session.backend
    beamline = simulated_beamline(config) if backend == "sim" else epics_beamline(config)
    catalog = OpeningCatalog(session.catalog, api_key=tiled_api_key(session.api_key_env))
    writer = SessionWriter(catalog)
    RE = make_run_engine(beamline, writer, catalog=catalog, progress=True)
    live = OperandoAnalysis()
    analyse_off_the_run_engine(RE, live)
    if session.publish:
        publisher = json_publisher(session.publish)
        atexit.register(publisher.close)  # an open 0MQ publisher would block the exit
        RE.subscribe(publisher)
    devices = beamline.devices()
    namespace = (
        {
            "np": np,
            "RE": RE,
            "bl": beamline,
            "catalog": catalog,
            "writer": writer,
            "live": live,
            "an": analysis,
            "config": config,
        }
        | devices
        | {name: getattr(plans, name) for name in plans.__all__}
    )
    banner = BANNER.format(
        backend=backend,
        devices=", ".join(devices),
        catalog=catalog,
        publish=f", publishing to {session.publish}" if session.publish else "",
    )
    return namespace, banner


def start_ipython(config: BeamlineConfig | None = None, backend: str | None = None) -> None:
    """Open IPython with the session namespace."""
    import IPython

    namespace, banner = build_session(config, backend)
    catalog = namespace["catalog"]  # IPython empties the namespace when it ends
    print(banner)
    IPython.start_ipython(argv=["--no-banner", "--no-confirm-exit"], user_ns=namespace)
    # a session left at once: let the catalog finish opening while the interpreter still can
    # (never a catalog cut in half); it closes at exit
    catalog.result()
