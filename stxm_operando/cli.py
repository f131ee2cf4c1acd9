"""Command line: ``stxm-operando demo | ioc``."""

import argparse
import logging
import sys

from .config import BeamlineConfig, ConfigError


def _load_config(path: str | None) -> BeamlineConfig:
    return BeamlineConfig.from_toml(path) if path else BeamlineConfig()


def _ioc(args: argparse.Namespace) -> None:
    from .ioc import run_ioc

    logging.basicConfig(level=logging.INFO)
    run_ioc(
        _load_config(args.config),
        prefix=args.prefix,
        host=args.host,
        port=args.port,
        speed=args.speed,
    )


def _demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(_load_config(args.config), output=args.output)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stxm-operando", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the simulated operando demo")
    demo.add_argument("--config", help="beamline TOML config (default: simulated beamline)")
    demo.add_argument("--output", default="demo-output", help="folder for figures and data")
    demo.set_defaults(func=_demo)
    ioc = commands.add_parser("ioc", help="serve the simulated beamline over Channel Access")
    ioc.add_argument("--config", help="beamline TOML config (default: simulated beamline)")
    ioc.add_argument("--prefix", help="PV prefix (default: from the config, 'STXM:')")
    ioc.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    ioc.add_argument("--port", type=int, help="Channel Access server port")
    ioc.add_argument(
        "--speed", type=float, default=10.0, help="simulated seconds per wall second (default 10)"
    )
    ioc.set_defaults(func=_ioc)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ConfigError as err:
        print(f"stxm-operando: bad config: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
