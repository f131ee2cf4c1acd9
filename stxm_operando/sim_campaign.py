"""A small simulated beamtime, recorded into a catalog through the devices, plans and catalog
as at a beamline: for each C-rate one operando run that lithiates the simulated particle to
90 % of its capacity, rests 5 min, and delithiates it again, the particle imaged every minute.
The simulated beamline is seeded, so the campaign is the same each time it is recorded.

On it, the campaign shows the paper's Fig. 5b trend (Koo et al. 2023): at SoC 0.5, <x_surf>
orders lithiation 4C > lithiation 2C > delithiation 2C > delithiation 4C.
"""

from collections.abc import Sequence

import numpy as np

from .devices import simulated_beamline
from .plans import Galvanostatic, ParticleROI, Rest, operando
from .run_engine import make_run_engine
from .storage import Catalog

CAMPAIGN_RATES = (2.0, 4.0)
"""C-rates (1/h) of the simulated beamtime's cycles."""
PARTICLE = ParticleROI(0, -0.9, 0.2, 30, 20)
"""The region around the simulated beamline's first particle."""


def check_rates(rates: Sequence[float]) -> None:
    """ValueError unless the campaign's C-rates are positive numbers (1/h)."""
    if not rates or not all(np.isfinite(rate) and rate > 0 for rate in rates):
        raise ValueError(f"C-rates must be positive numbers (1/h), got {list(rates)}")


def cycle(c_rate: float) -> list:
    """Lithiation to 90 % of capacity (or 2.8 V), a 5 min rest, delithiation (or 4.1 V)."""
    return [
        Galvanostatic(c_rate=c_rate, until_capacity=0.9, until_V=2.8),
        Rest(300.0),
        Galvanostatic(c_rate=-c_rate, until_capacity=0.9, until_V=4.1),
    ]


def record_simulated_campaign(
    catalog: Catalog,
    rates: Sequence[float] = CAMPAIGN_RATES,
    sample: str = "simulated LFP",
    live: dict | None = None,
    truth: dict | None = None,
    every_s: float = 60.0,
) -> list[str]:
    """Record one cycle per C-rate (1/h) into ``catalog``, imaging every ``every_s`` (s); the
    runs' uids. With ``live`` (a dict), each run's live analysis (as the monitor had it) is
    kept there by its uid; with ``truth``, the simulated particle's own Li fraction grid at
    each of its images, as (beamline clock s, grid) pairs by the run's uid."""
    from .live_callbacks import OperandoAnalysis

    check_rates(rates)
    uids = []
    for c_rate in rates:
        beamline = simulated_beamline()
        writer = catalog.writer()
        run_engine = make_run_engine(beamline, writer, catalog=catalog, context_managers=[])
        analysis = OperandoAnalysis()
        run_engine.subscribe(analysis)
        snapshots: list[tuple[float, np.ndarray]] = []
        if truth is not None:
            run_engine.subscribe(_snapshot_at_images(beamline.world, snapshots))
        plan = operando(beamline, cycle(c_rate), [PARTICLE], every_s=every_s, dwell_ms=0.5)
        uids.append(run_engine(plan, sample=sample).run_start_uids[0])
        writer.flush()
        if live is not None:
            live[uids[-1]] = analysis
        if truth is not None:
            truth[uids[-1]] = snapshots
        print(f"recorded the {c_rate:g}C cycle: run {uids[-1][:8]}", flush=True)
    return uids


def _snapshot_at_images(world, snapshots: list):
    """A RunEngine callback keeping the first particle's true Li fraction grid whenever one
    of its image's lines arrives (the world's clock then, s)."""
    streams: set[str] = set()

    def callback(name: str, doc: dict) -> None:
        if name == "descriptor" and doc["name"] == PARTICLE.stream_name():
            streams.add(doc["uid"])
        elif name in ("event", "event_page") and doc["descriptor"] in streams:
            with world.lock:
                snapshots.append((world.clock_s, world.true_fraction_maps()[0]))

    return callback
