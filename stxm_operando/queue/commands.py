"""The queue commands: ``queue-server`` (bluesky-queueserver's RE manager with the
beamline's plans) and ``control`` (the control window, a client of that manager)."""

import argparse
import os
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from ..config import BeamlineConfig, tiled_api_key
from . import check_redis


def queue_server(args: argparse.Namespace) -> None:
    """``stxm-operando queue-server``: the RE manager on loopback with the beamline's
    startup module and permissions (it replaces this process)."""

    beside = Path(sys.executable).with_name("start-re-manager")  # this environment's
    manager = str(beside) if beside.exists() else shutil.which("start-re-manager")
    if manager is None:
        raise OSError("bluesky-queueserver's start-re-manager is not installed")
    if args.config:
        BeamlineConfig.from_toml(args.config)  # a bad config fails here, not in the worker
        os.environ["STXM_OPERANDO_CONFIG"] = str(Path(args.config).resolve())
    if args.catalog:
        os.environ["STXM_OPERANDO_CATALOG"] = args.catalog
    check_redis(args.redis)
    state = Path(tempfile.mkdtemp(prefix="stxm-operando-queue-"))
    permissions = resources.files("stxm_operando.queue") / "user_group_permissions.yaml"
    command = [
        manager,
        "--startup-module", "stxm_operando.queue.startup",
        "--redis-addr", args.redis,
        "--zmq-control-addr", f"tcp://127.0.0.1:{args.control_port}",
        "--zmq-info-addr", f"tcp://127.0.0.1:{args.info_port}",
        "--zmq-publish-console", "ON",  # progress lines for the control window
        "--update-existing-plans-devices", "ENVIRONMENT_OPEN",
        "--existing-plans-devices", str(state / "existing_plans_and_devices.yaml"),
        "--user-group-permissions", str(permissions),
    ]  # fmt: skip
    print(
        f"stxm-operando: queue server on tcp://127.0.0.1:{args.control_port} "
        f"(info :{args.info_port}), Redis {args.redis}",
        flush=True,
    )
    os.execv(manager, command)


def control(args: argparse.Namespace) -> None:
    """``stxm-operando control``: the control window on the RE manager at the addresses."""
    from ..gui.control.app import run_control

    config = BeamlineConfig.from_toml(args.config) if args.config else BeamlineConfig()
    catalog = None
    if args.catalog:
        from ..storage import open_catalog

        catalog = open_catalog(args.catalog, api_key=tiled_api_key(), read_only=True)
    run_control(
        f"tcp://127.0.0.1:{args.control_port}", f"tcp://127.0.0.1:{args.info_port}", config, catalog
    )


def add_commands(commands, port_type) -> None:
    """Register ``queue-server`` and ``control`` with the CLI's subcommands."""
    queue = commands.add_parser(
        "queue-server", help="run bluesky-queueserver's RE manager with the beamline's plans"
    )
    queue.add_argument("--config", help="beamline TOML config (default: simulated beamline)")
    queue.add_argument("--catalog", help="catalog directory or tiled URI (default: the config's)")
    queue.add_argument("--redis", default="127.0.0.1:6379", help="Redis host:port")
    queue.set_defaults(func=queue_server)
    window = commands.add_parser(
        "control", help="open the control window: regions, protocols, the queue server's queue"
    )
    window.add_argument("--config", help="the beamline TOML config the queue server uses")
    window.add_argument("--catalog", help="catalog directory or tiled URI (fields, finished runs)")
    window.set_defaults(func=control)
    for sub in (queue, window):
        sub.add_argument("--control-port", type=port_type, default=60615, help="0MQ control port")
        sub.add_argument("--info-port", type=port_type, default=60625, help="0MQ console port")
