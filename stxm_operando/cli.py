"""Command line: ``stxm-operando demo | paper | ipython | ioc | monitor | proxy | runs |
replay | export | queue-server | control | catalog-server | potentiostat-sim |
campaign``."""

import argparse
import gc
import logging
import sys
from pathlib import Path

from . import campaign, potentiostat_sim
from .config import (
    API_KEY_ENV,
    LOOPBACK_HOSTS,
    BeamlineConfig,
    ConfigError,
    default_catalog,
    tiled_api_key,
)
from .queue import commands as queue_commands
from .storage import CatalogError, UnknownRunError


def port(text: str) -> int:
    """argparse type: a TCP/UDP port number."""
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port must be within 1-65535, got {value}")
    return value


def _check_exposure(args: argparse.Namespace, what: str) -> None:
    """Binding off loopback needs ``--allow-remote``, and then warns who can reach what."""
    if args.host in LOOPBACK_HOSTS:
        return
    if not args.allow_remote:
        raise ValueError(
            f"{what} on {args.host} (not loopback) is reachable from the network: "
            "add --allow-remote to mean it"
        )
    print(
        f"stxm-operando: WARNING: {what} is reachable from the network on {args.host}",
        file=sys.stderr,
    )


def _load_config(path: str | None) -> BeamlineConfig:
    return BeamlineConfig.from_toml(path) if path else BeamlineConfig()


def _open_catalog(args: argparse.Namespace):
    from .storage import open_catalog

    return open_catalog(args.catalog, api_key=tiled_api_key(), read_only=True)


def _ioc(args: argparse.Namespace) -> None:
    from .ioc import run_ioc

    config = _load_config(args.config)
    _check_exposure(args, "the IOC (and its potentiostat)")
    if args.host not in LOOPBACK_HOSTS and not config.potentiostat.write_hosts:
        print(
            "stxm-operando: WARNING: any host may write the potentiostat PVs; "
            "set potentiostat.write_hosts",
            file=sys.stderr,
        )
    logging.basicConfig(level=logging.INFO)
    run_ioc(
        config,
        prefix=args.prefix,
        host=args.host,
        port=args.port,
        speed=args.speed,
    )


def _demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(
        _load_config(args.config), output=args.output, catalog=args.catalog, publish=args.publish
    )


def _paper(args: argparse.Namespace) -> None:
    from .paper import main as redraw_paper

    redraw_paper(output=args.output, seeds=range(args.seeds), assignments=args.set)


def _runs(args: argparse.Namespace) -> None:
    from .storage.listing import run_table

    criteria = {k: v for k, v in (("sample", args.sample), ("plan_name", args.plan)) if v}
    with _open_catalog(args) as catalog:
        summaries = catalog.summaries(**criteria)
    shown = summaries[-args.limit :] if args.limit else summaries
    print(run_table(shown))
    print(f"{len(shown)} of {len(summaries)} runs in {args.catalog}")


def _replay(args: argparse.Namespace) -> None:
    from .live_callbacks import OperandoAnalysis, print_summary
    from .storage.replay import replay

    with _open_catalog(args) as catalog:
        uid = catalog.resolve(args.run)  # unknown ids fail before any window opens
        if not args.print:
            from .gui.app import run_monitor

            run_monitor(catalog=catalog, uid=uid)
            return
        print(f"replaying run {uid[:8]} through the live analysis ...", flush=True)
        analysis = OperandoAnalysis()
        count = replay(catalog, uid, analysis)
    print(f"replayed {count} documents of run {uid}: {len(analysis.frames)} particle frames")
    print_summary(analysis.summary(0.5))


def _monitor(args: argparse.Namespace) -> None:
    from .gui.app import run_monitor

    if args.catalog is not None:  # the one asked for, or a clear error
        catalog = _open_catalog(args)
    else:
        args.catalog = default_catalog()
        try:
            catalog = _open_catalog(args)
        except CatalogError as err:  # nothing stored in the default catalog yet: live only
            print(f"stxm-operando monitor: no run browser ({err}); showing the live stream")
            catalog = None
    run_monitor(address=args.address, catalog=catalog)


def _ipython(args: argparse.Namespace) -> None:
    from .session import start_ipython

    start_ipython(
        _load_config(args.config), backend="epics" if args.epics else "sim" if args.sim else None
    )


def _proxy(args: argparse.Namespace) -> None:
    from .live_callbacks import run_proxy

    _check_exposure(args, "the 0MQ proxy")
    print(
        f"0MQ proxy: publish to {args.host}:{args.in_port}, "
        f"subscribe at {args.host}:{args.out_port}",
        flush=True,
    )
    import zmq

    try:
        run_proxy(args.in_port, args.out_port, args.host)
    except zmq.ZMQError as err:  # e.g. a port in use
        raise OSError(f"the 0MQ proxy cannot bind {args.host}: {err}") from None


def _export(args: argparse.Namespace) -> None:
    from .export import export_csv, export_nxstxm

    with _open_catalog(args) as catalog:
        uid = catalog.resolve(args.run)  # unknown ids fail before any file is written
        print(f"exporting run {uid[:8]} (read and analysed as the monitor does) ...", flush=True)
        if args.nxstxm:
            print(f"wrote {export_nxstxm(catalog, uid, args.nxstxm)}")
        if args.csv:
            for path in export_csv(catalog, uid, args.csv):
                print(f"wrote {path}")


def _catalog_server(args: argparse.Namespace) -> None:
    import secrets

    import uvicorn

    from .storage import build_catalog_app, check_server_security
    from .storage.catalog_dir import check_writable, database_for_writing

    api_key = tiled_api_key() or args.api_key
    check_server_security(args.host, api_key)
    path = Path(args.path).expanduser().resolve()
    if args.database is None:
        database_for_writing(path)  # relocates a catalog directory copied from elsewhere
    else:
        check_writable(path)  # the arrays' folder
    generated = api_key is None
    api_key = api_key or secrets.token_hex(16)  # loopback only (checked above)
    where = args.database or str(path)
    print(f"stxm-operando: serving the catalog {where} at http://{args.host}:{args.port}")
    if generated:
        print(f"stxm-operando: API key {api_key} (clients: {API_KEY_ENV}={api_key})")
    sys.stdout.flush()
    app = build_catalog_app(path, api_key, database=args.database)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stxm-operando", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the simulated operando demo")
    demo.add_argument("--config", help="beamline TOML config (default: simulated beamline)")
    demo.add_argument("--output", default="demo-output", help="folder for the figures")
    demo.add_argument(
        "--catalog",
        default=default_catalog(),
        help=f"catalog directory or tiled URI (default {default_catalog()})",
    )
    demo.add_argument("--publish", help="also publish documents to a 0MQ proxy (host:port)")
    demo.set_defaults(func=_demo)

    paper = commands.add_parser(
        "paper", help="redraw the paper's figures from the particle model (tables, CSV, figure)"
    )
    paper.add_argument(
        "--output", default="paper-output", help="folder for the figure and the tables"
    )
    paper.add_argument(
        "--seeds", type=int, default=3, help="particles (seeds) per rate and direction (3)"
    )
    paper.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a model parameter (PlateletParameters), e.g. surface_layer_nm=10; repeatable",
    )
    paper.set_defaults(func=_paper)

    runs = commands.add_parser("runs", help="list the catalog's runs, oldest first")
    runs.add_argument("--catalog", default=default_catalog(), help="catalog directory or URI")
    runs.add_argument("--sample", help="only runs of this sample")
    runs.add_argument("--plan", help="only runs of this plan (e.g. operando)")
    runs.add_argument("--limit", type=int, default=0, help="only the newest N runs")
    runs.set_defaults(func=_runs)

    ioc = commands.add_parser("ioc", help="serve the simulated beamline over Channel Access")
    ioc.add_argument("--config", help="beamline TOML config (default: simulated beamline)")
    ioc.add_argument("--prefix", help="PV prefix (default: from the config, 'STXM:')")
    ioc.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    ioc.add_argument("--port", type=port, help="Channel Access server port")
    ioc.add_argument(
        "--allow-remote", action="store_true", help="allow a --host other than loopback"
    )
    ioc.add_argument(
        "--speed", type=float, default=10.0, help="simulated seconds per wall second (default 10)"
    )
    ioc.set_defaults(func=_ioc)

    monitor = commands.add_parser("monitor", help="open the live monitor")
    monitor.add_argument(
        "--address", default="127.0.0.1:5578", help="0MQ proxy output to subscribe to (host:port)"
    )
    monitor.add_argument(
        "--catalog",
        help=f"catalog directory or tiled URI for the run browser (default {default_catalog()}"
        ", shown once it holds runs)",
    )
    monitor.set_defaults(func=_monitor)

    ipython = commands.add_parser("ipython", help="open an IPython session at the beamline")
    ipython.add_argument("--config", help="beamline TOML config (default: simulated beamline)")
    backend = ipython.add_mutually_exclusive_group()
    backend.add_argument("--sim", action="store_true", help="use the simulated beamline")
    backend.add_argument("--epics", action="store_true", help="use the EPICS devices")
    ipython.set_defaults(func=_ipython)

    proxy = commands.add_parser("proxy", help="run the 0MQ document proxy")
    proxy.add_argument("--host", default="127.0.0.1", help="interface (default loopback)")
    proxy.add_argument("--in-port", type=port, default=5577, help="publishers connect here")
    proxy.add_argument("--out-port", type=port, default=5578, help="monitors subscribe here")
    proxy.add_argument(
        "--allow-remote", action="store_true", help="allow a --host other than loopback"
    )
    proxy.set_defaults(func=_proxy)

    for name, func, text in (
        ("replay", _replay, "replay a stored run in the monitor (or --print a summary)"),
        ("export", _export, "export a stored run"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument(
            "run",
            help="the run (the operando run for a series): its uid, a unique uid prefix "
            "or its scan id",
        )
        sub.add_argument(
            "--catalog",
            default=default_catalog(),
            help=f"catalog directory or tiled URI (default {default_catalog()}; "
            f"{API_KEY_ENV} for servers)",
        )
        sub.set_defaults(func=func)
        if name == "replay":
            sub.add_argument(
                "--print",
                action="store_true",
                help="print the summary table instead of opening the monitor",
            )
        if name == "export":
            sub.add_argument("--nxstxm", help="write NXstxm HDF5 to this file")
            sub.add_argument("--csv", help="write electrochemistry and frame CSVs here")

    queue_commands.add_commands(commands, port)
    potentiostat_sim.add_command(commands, port)
    campaign.add_command(commands)
    server = commands.add_parser("catalog-server", help="serve a catalog over tiled (HTTP)")
    server.add_argument(
        "--path", required=True, help="catalog directory (its arrays, and its SQLite database)"
    )
    server.add_argument(
        "--database",
        help="a PostgreSQL catalog database instead of DIR/catalog.db, "
        "e.g. postgresql://user@127.0.0.1:5432/catalog",
    )
    server.add_argument("--host", default="127.0.0.1", help="interface (default loopback)")
    server.add_argument("--port", type=port, default=8000)
    server.add_argument("--api-key", help=f"required key (or {API_KEY_ENV}); needed off loopback")
    server.set_defaults(func=_catalog_server)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "export" and not (args.nxstxm or args.csv):
        parser.error("export needs --nxstxm FILE and/or --csv DIR")
    try:
        args.func(args)
    except ConfigError as err:
        print(f"stxm-operando: bad config: {err}", file=sys.stderr)
        return 2
    except (CatalogError, UnknownRunError, ValueError, OSError) as err:
        # bad ids, unwritable paths, ports in use, unreachable hosts: one line, no traceback
        print(f"stxm-operando: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


IMPORT_TIME_GC_THRESHOLD = 50_000
"""Allocations between the collector's youngest-generation passes while this process is
the command (CPython's default: 700)."""


def run() -> None:
    """The ``stxm-operando`` program: ``main`` in a process that is only this command.

    Importing tiled, dask and bluesky makes millions of objects that live as long as the
    process; at CPython's default threshold the collector walks them again and again
    (0.4-0.5 s of a replay's imports), and once more at exit (0.6-0.8 s after the last
    output). A larger threshold, and freezing what is alive before the interpreter ends,
    leave those walks out.
    """
    gc.set_threshold(IMPORT_TIME_GC_THRESHOLD, *gc.get_threshold()[1:])
    code = main()
    sys.stdout.flush()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
