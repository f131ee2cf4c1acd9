"""The IPython session: RunEngine with the catalog, devices, plans and analysis at hand."""

import atexit
import os

import numpy as np
from bluesky import RunEngine
from bluesky.utils import ProgressBarManager

from . import analysis, plans
from .config import BeamlineConfig
from .devices import epics_beamline, simulated_beamline
from .live_callbacks import OperandoAnalysis, ThreadedCallback, json_publisher
from .storage import open_catalog

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


def build_session(
    config: BeamlineConfig | None = None, backend: str | None = None
) -> tuple[dict, str]:
    """The namespace and banner of a session; ``backend`` overrides the config's."""
    config = config or BeamlineConfig()
    session = config.session
    backend = backend or session.backend
    beamline = simulated_beamline(config) if backend == "sim" else epics_beamline(config)
    catalog = open_catalog(session.catalog, api_key=os.environ.get(session.api_key_env))
    RE = RunEngine({}, call_returns_result=True)
    plans.switch_off_on_halt(RE, beamline)  # RE.halt() skips cleanup: open the circuit
    RE.waiting_hook = ProgressBarManager()
    writer = catalog.writer()
    RE.subscribe(writer)
    live = OperandoAnalysis()
    RE.subscribe(ThreadedCallback(live, name="analysis"))
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
    print(banner)
    IPython.start_ipython(argv=["--no-banner", "--no-confirm-exit"], user_ns=namespace)
