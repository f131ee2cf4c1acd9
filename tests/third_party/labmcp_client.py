"""Run in the labmcp-palmsens venv: its driver and parser against a MethodSCRIPT instrument.

``python labmcp_client.py parse`` reads package lines on stdin and prints, per line, the
variables as JSON. ``python labmcp_client.py drive PORT OCP_SCRIPT_JSON E_HOLD_V`` connects
with labmcp's TCP transport, identifies, runs the given OCP script and a chronoamperometry
that labmcp-palmsens builds itself, and prints the results as JSON.
"""

import json
import sys

from labmcp.transports.tcp import TCPTransport
from labmcp_palmsens.driver import MethodScriptDevice, build_script, encode_literal, parse_package


def parse() -> None:
    for line in sys.stdin:
        variables = parse_package(line.strip())
        print(json.dumps([[v.type, v.value, v.status, v.range] for v in variables]), flush=True)


def values(result, var_type: str) -> list[float]:
    return [v.value for _, package in result.packets for v in package if v.type == var_type]


def drive(port: str, ocp_script: str, hold_v: str) -> None:
    device = MethodScriptDevice(TCPTransport("127.0.0.1", int(port), timeout=5.0))
    try:
        info = device.identify()
        ocp = device.execute(json.loads(ocp_script), timeout_s=30)
        hold = float(hold_v)
        loop = f"meas_loop_ca p c {encode_literal(hold)} 1 30"
        script = build_script(
            loop,
            begin_potential_v=hold,
            e_min=hold,
            e_max=hold,
            pgstat_mode=2,
            bandwidth_hz=6.0,
            current_range_a=1e-4,
            autorange=True,
            equilibration_s=0.0,
            with_timer=True,
        )
        ca = device.execute(script, timeout_s=30)
        print(
            json.dumps(
                {
                    "info": info,
                    "ocp_V": values(ocp, "ab"),
                    "ca_error": ca.error,
                    "ca_points": len(ca.packets),
                    "ca_A": values(ca, "ba"),
                }
            ),
            flush=True,
        )
    finally:
        device.close()


if __name__ == "__main__":
    {"parse": parse, "drive": drive}[sys.argv[1]](*sys.argv[2:])
