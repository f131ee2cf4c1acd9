"""A beamtime's catalog reduced to the paper's cross-run table (Figs. 1c and 5b/5c): every
operando run replayed through the same analysis as the live monitor (``OperandoAnalysis``),
one dask task per run on a ``LocalCluster`` or a running scheduler, each result cached by
run uid and analysis version so that a campaign grown by new runs analyses only those.

``stxm-operando campaign --catalog DIR|URI --output OUT [--workers N | --scheduler URL]``
writes ``OUT/campaign.csv`` (one row per run, particle and direction at the state of charge
asked for), ``OUT/channels.csv`` and ``.parquet`` (every channel of every frame),
``OUT/campaign.png`` and ``.pdf`` (Figs. 1c, 4b, 5b, 5c across runs and a grid of Li maps)
and ``OUT/failures.csv`` (every run that could not be analysed, and why).
"""

import argparse
import csv
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .streams import CHANNEL_ROW_FIELDS

ANALYSIS_VERSION = 3
"""Bumped when the analysis changes, so that cached results are recomputed."""
COLUMNS = (
    "uid",
    "sample",
    "exit_status",
    "particle_id",
    "direction",
    "c_rate",
    "soc",
    "x_surf",
    "x_internal",
    "active_fraction",
    "transformed_fraction",
    "voltage_V",
    "overpotential_V",
    "frame_index",
    "time_s",
    "frames",
    "drift_px",
    "j0_fit_a",
    "j0_fit_b",
)
"""campaign.csv's columns: exit_status is the run's (an aborted run's frames count too); soc
is the particle's mean Li fraction in the frame nearest the asked state of charge; voltage_V
and overpotential_V (against ``reference_V``) are the cell's then, V; time_s is the frame's
time (the end of its image, on the run's clock), s; frames counts the
particle's analysed frames in the run; drift_px is the largest registration shift among them,
pixels; j0_fit_a and j0_fit_b are the exponents of ``A x^a (1 - x)^b`` fitted to all its
channels' (x_surf, j0), empty when fewer than four channels give a j0."""
CHANNEL_COLUMNS = ("uid", *CHANNEL_ROW_FIELDS)
"""channels.csv: every [010] channel of every analysed frame (the points of Fig. 4b)."""


@dataclass(frozen=True)
class RunOutcome:
    """One run's rows, or why it has none."""

    uid: str
    rows: list[dict] = field(default_factory=list)
    channels: list[dict] = field(default_factory=list)
    maps: list[dict] = field(default_factory=list)
    error: str = ""


def analyse_run(location: str, uid: str, soc: float, reference_V: float) -> RunOutcome:
    """Replay one operando run (its whole series) through the live analysis and return a
    row per particle and direction at ``soc``. A dask task: it opens the catalog (directory or
    tiled URI) itself, read-only; any failure is the outcome's ``error``, never raised."""
    from .config import tiled_api_key
    from .live_callbacks import OperandoAnalysis
    from .storage import open_catalog
    from .storage.replay import replay

    try:
        with open_catalog(location, api_key=tiled_api_key(), read_only=True) as catalog:
            summaries = catalog.summaries(uid=uid)
            analysis = OperandoAnalysis(reference_V=reference_V)
            replay(catalog, uid, analysis)
    except Exception as err:  # reported with the run, the campaign goes on
        return RunOutcome(uid, error=f"{type(err).__name__}: {err}")
    start = summaries[0]["start"] if summaries else {}
    stop = summaries[0]["stop"] if summaries else None
    exit_status = (stop or {}).get("exit_status", "no stop document")
    frames = analysis.snapshot()[0]
    if not frames:
        return RunOutcome(uid, error="no imaging pass could be analysed")
    by_key = {(f.direction, f.particle_id, f.frame_index): f for f in frames}
    channels = [{"uid": uid} | point for f in frames for point in f.channel_rows()]
    rows, maps = [], []
    for row in analysis.summary(soc):
        frame = by_key[(row.direction, row.particle_id, row.frame_index)]
        own = [
            f for f in frames if (f.direction, f.particle_id) == (row.direction, row.particle_id)
        ]
        points = [
            c
            for c in channels
            if (c["direction"], c["particle_id"]) == (row.direction, row.particle_id)
        ]
        a, b = _j0_exponents(points)
        rows.append(
            {
                "uid": uid,
                "sample": start.get("sample", ""),
                "exit_status": exit_status,
                "particle_id": row.particle_id,
                "direction": row.direction,
                "c_rate": row.c_rate,
                "soc": row.mean_fraction,
                "x_surf": row.mean_surface,
                "x_internal": row.mean_internal,
                "active_fraction": row.active_fraction,
                "transformed_fraction": row.transformed_fraction,
                "voltage_V": frame.voltage_V,
                "overpotential_V": frame.voltage_V - reference_V,
                "frame_index": row.frame_index,
                "time_s": frame.analysis.time_s,
                "frames": len(own),
                "drift_px": max(math.hypot(*f.analysis.shift) for f in own),
                "j0_fit_a": a,
                "j0_fit_b": b,
            }
        )
        maps.append(_map_of(uid, frame))
    if not rows:
        return RunOutcome(uid, error="no lithiation or delithiation frame with a particle")
    return RunOutcome(uid, rows, channels, maps)


def _map_of(uid: str, frame) -> dict:
    """The Li map of a row's frame, the particle's box (None off the particle, for JSON)."""
    li_map = frame.li_map[frame.particle.bbox]
    return {
        "uid": uid,
        "particle_id": frame.particle_id,
        "direction": frame.direction,
        "c_rate": frame.c_rate,
        "pixel_nm": frame.pixel_size_nm,
        "x": np.where(np.isnan(li_map), None, np.round(li_map, 4)).tolist(),
    }


def _j0_exponents(points: list[dict]) -> tuple[float, float]:
    """(a, b) of ``A x^a (1 - x)^b`` fitted to the channels' (x_surf, j0); NaN if it cannot be."""
    from .analysis import fit_j0

    try:
        fit = fit_j0([p["x_surf"] for p in points], [p["j0_mA_cm2"] for p in points])
    except (ValueError, RuntimeError):  # too few points, or no convergence
        return math.nan, math.nan
    return fit.a, fit.b


@dataclass
class Campaign:
    """What a campaign found: rows (``COLUMNS``), failures (uid, reason), runs analysed now
    (the others came from the cache) and the files written."""

    rows: list[dict]
    failures: list[tuple[str, str]]
    analysed: int
    files: list[Path]


def run_campaign(
    location: str,
    output: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    sample: str | None = None,
    soc: float = 0.5,
    reference_V: float | None = None,
    progress: bool = True,
) -> Campaign:
    """Analyse every operando run of the catalog at ``location`` into ``output``.

    Parameters
    ----------
    location : a catalog directory or a tiled server's URI (every worker opens it).
    workers : processes of a local dask cluster (default: one per core); 0 analyses in this
        process, without dask.
    scheduler : the address of a running dask scheduler (``tcp://host:8786``) instead.
    sample : only the runs of this sample.
    soc : the state of charge (mean Li fraction) the rows are taken at.
    reference_V : equilibrium voltage for the overpotentials, V (default: the model's).
    """
    from .analysis import REFERENCE_OCV_V
    from .config import tiled_api_key
    from .storage import open_catalog

    if not 0 <= soc <= 1:
        raise ValueError(f"soc must be within 0-1, got {soc}")
    reference = REFERENCE_OCV_V if reference_V is None else float(reference_V)
    location = _absolute(location)
    output = Path(output)
    cache = output / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    with open_catalog(location, api_key=tiled_api_key(), read_only=True) as catalog:
        query = {"plan_name": "operando"} | ({"sample": sample} if sample else {})
        uids = catalog.search(**query)
    key = f"v{ANALYSIS_VERSION}-soc{soc:g}-ref{reference:.4f}"
    outcomes = {uid: _cached(cache / f"{uid}.{key}.json") for uid in uids}
    todo = [uid for uid, outcome in outcomes.items() if outcome is None]
    for outcome in _analyse(location, todo, soc, reference, workers, scheduler, progress):
        (cache / f"{outcome.uid}.{key}.json").write_text(json.dumps(asdict(outcome)))
        outcomes[outcome.uid] = outcome
    rows = [row for uid in uids for row in outcomes[uid].rows]
    channels = [point for uid in uids for point in outcomes[uid].channels]
    failures = [(uid, outcomes[uid].error) for uid in uids if outcomes[uid].error]
    files = [
        _write_csv(output / "campaign.csv", COLUMNS, rows),
        _write_csv(output / "channels.csv", CHANNEL_COLUMNS, channels),
        _write_parquet(output / "channels.parquet", CHANNEL_COLUMNS, channels),
    ]
    files.append(
        _write_csv(
            output / "failures.csv",
            ("uid", "reason"),
            [{"uid": uid, "reason": reason} for uid, reason in failures],
        )
    )
    if rows:
        from .gui.campaign_figure import save_campaign_figure

        maps = [m for uid in uids for m in outcomes[uid].maps]
        files += save_campaign_figure(
            rows, channels, maps, output / "campaign.png", pdf=output / "campaign.pdf"
        )
    return Campaign(rows, failures, len(todo), files)


def _analyse(location, uids, soc, reference, workers, scheduler, progress):
    """The outcomes of ``uids`` as they finish, on dask (or in this process for 0 workers)."""
    from tqdm import tqdm

    if not uids:
        return
    bar = tqdm(total=len(uids), desc="runs analysed", unit="run", disable=not progress)
    if workers == 0 and scheduler is None:
        for uid in uids:
            yield analyse_run(location, uid, soc, reference)
            bar.update()
        bar.close()
        return
    from distributed import Client, LocalCluster, as_completed

    if scheduler is not None:
        client, cluster = Client(scheduler), None
    else:
        n = workers or os.cpu_count() or 1
        cluster = LocalCluster(  # on loopback, dashboard on a free port
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )
        client = Client(cluster)
    try:
        futures = client.map(
            analyse_run, [location] * len(uids), uids, soc=soc, reference_V=reference, pure=False
        )
        for future in as_completed(futures):
            yield future.result()
            bar.update()
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def _cached(path: Path) -> RunOutcome | None:
    try:
        return RunOutcome(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _absolute(location: str) -> str:
    """A directory as an absolute path (workers may start elsewhere); a URI as it is."""
    from .storage import is_server_uri

    if is_server_uri(location):
        return str(location)
    return str(Path(location).expanduser().resolve())


def _write_csv(path: Path, columns, rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row[k]) for k in columns})
    return path


def _write_parquet(path: Path, columns, rows: list[dict]) -> Path:
    """The table as Parquet (typed columns, for pandas or dask over many runs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({k: [row[k] for row in rows] for k in columns}), path)
    return path


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def add_command(commands) -> None:
    """Register ``campaign`` with the CLI's subcommands."""
    campaign = commands.add_parser(
        "campaign", help="analyse a catalog's operando runs into the paper's cross-run table"
    )
    campaign.add_argument("--catalog", required=True, help="catalog directory or tiled URI")
    campaign.add_argument("--output", required=True, help="folder for campaign.csv and more")
    where = campaign.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local dask workers (0: this process)")
    where.add_argument("--scheduler", help="a running dask scheduler, tcp://host:8786")
    campaign.add_argument("--sample", help="only this sample's runs")
    campaign.add_argument("--soc", type=float, default=0.5, help="state of charge of the rows")
    campaign.add_argument("--reference-V", type=float, help="equilibrium voltage, V")
    campaign.add_argument(
        "--record-simulated",
        action="store_true",
        help="first record a simulated beamtime (a cycle per --rates) into the catalog",
    )
    campaign.add_argument(
        "--rates",
        type=float,
        nargs="+",
        metavar="C",
        help="C-rates (1/h) of the simulated cycles (default: 2 4)",
    )
    campaign.set_defaults(func=_command)


def _command(args: argparse.Namespace) -> None:
    if args.record_simulated:
        from .config import tiled_api_key
        from .sim_campaign import CAMPAIGN_RATES, check_rates, record_simulated_campaign
        from .storage import open_catalog

        rates = args.rates or CAMPAIGN_RATES
        check_rates(rates)  # before a catalog is made
        with open_catalog(args.catalog, api_key=tiled_api_key()) as catalog:
            record_simulated_campaign(catalog, rates)
    done = run_campaign(
        args.catalog,
        args.output,
        workers=args.workers,
        scheduler=args.scheduler,
        sample=args.sample,
        soc=args.soc,
        reference_V=args.reference_V,
    )
    runs = len({row["uid"] for row in done.rows})
    print(
        f"campaign: {len(done.rows)} rows from {runs} runs ({done.analysed} analysed now), "
        f"{len(done.failures)} runs not analysed"
    )
    for uid, reason in done.failures:
        print(f"  {uid[:8]}: {reason}", file=sys.stderr)
    for path in done.files:
        print(f"wrote {path}")
