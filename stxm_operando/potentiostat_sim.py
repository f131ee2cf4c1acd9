"""``stxm-operando potentiostat-sim``: the simulated MethodSCRIPT instrument, stand-alone."""

import argparse
import sys

from .config import LOOPBACK_HOSTS, BeamlineConfig


def add_command(commands, port_type) -> None:
    """Register ``potentiostat-sim`` with the CLI's subcommands."""
    sim = commands.add_parser(
        "potentiostat-sim",
        help="run a simulated PalmSens MethodSCRIPT potentiostat (EmStat4 HR) on TCP or a pty",
    )
    where = sim.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", metavar="HOST:PORT", help="serve the serial stream over TCP")
    where.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated s per wall s")
    sim.add_argument("--config", help="beamline TOML config (its potentiostat and particles)")
    sim.add_argument("--allow-remote", action="store_true", help="allow binding off loopback")
    sim.set_defaults(func=run, port_type=port_type)


def run(args: argparse.Namespace) -> None:
    """Serve until interrupted; print where, then each script's start and end."""
    from .sim import SimulatedBeamline
    from .sim.instrument_link import RealTimeDriver, serve_pty, serve_tcp
    from .sim.methodscript import MethodScriptInstrument

    if args.listen is not None:
        host, _, port_text = args.listen.rpartition(":")
        port = args.port_type(port_text)
        if host not in LOOPBACK_HOSTS and not args.allow_remote:
            raise ValueError(
                f"the simulated potentiostat on {host} is reachable from the network: "
                "add --allow-remote to mean it"
            )
    if not args.speed > 0:
        raise ValueError(f"--speed must be positive, got {args.speed}")
    config = BeamlineConfig.from_toml(args.config) if args.config else BeamlineConfig()
    world = SimulatedBeamline(config)
    instrument = MethodScriptInstrument(world.potentiostat, world.lock)
    instrument.on_event = lambda text: print(f"potentiostat-sim: {text}", flush=True)
    driver = RealTimeDriver(world, speed=args.speed)

    def ready(where) -> None:
        print(f"MethodSCRIPT instrument (EmStat4 HR, simulated) on {where}", flush=True)

    try:
        if args.listen is not None:
            serve_tcp(instrument, host, port, ready=lambda p: ready(f"{host}:{p}"))
        else:
            serve_pty(instrument, ready=ready)
    except KeyboardInterrupt:
        pass
    finally:
        driver.stop()
        print("potentiostat-sim: stopped", file=sys.stderr)
