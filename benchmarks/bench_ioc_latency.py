"""Channel Access round-trip latency of get and put (with completion) against the caproto IOC.

Starts the IOC on 127.0.0.1 on a free port, measures, and stops it.
Run: ``python benchmarks/bench_ioc_latency.py``
"""

import socket
import statistics
import subprocess
import sys
import time

from stxm_operando.epics_env import use_local_channel_access


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(action, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def main(n: int = 300) -> None:
    port = free_port()
    use_local_channel_access(port)
    prefix = "BENCH:"
    ioc = subprocess.Popen(
        [sys.executable, "-m", "stxm_operando.cli", "ioc", "--port", str(port), "--prefix", prefix],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from ophyd import EpicsSignal

        from stxm_operando.devices import epics_beamline

        for _ in range(60):
            try:
                bl = epics_beamline(prefix=prefix, timeout=2.0)
                break
            except TimeoutError:
                continue
        setpoint = EpicsSignal(f"{prefix}Pstat:CurrentSP", name="sp")
        setpoint.wait_for_connection(timeout=10)
        readback = bl.potentiostat.voltage
        rows = {
            "get (Pstat:Voltage)": timed(lambda: readback.get(use_monitor=False), n),
            "put + completion (Pstat:CurrentSP)": timed(lambda: setpoint.set(1e-6).wait(5), n),
            "motor move 0.1 um + done (FineX)": timed(
                lambda: bl.scanner.fine_x.set(bl.scanner.fine_x.position + 0.1).wait(5), n // 10
            ),
        }
        print(f"caproto IOC on 127.0.0.1, {n} samples each (motor: {n // 10})")
        for label, samples in rows.items():
            print(
                f"  {label:36s} median {statistics.median(samples):6.2f} ms, "
                f"p95 {sorted(samples)[int(0.95 * len(samples))]:6.2f} ms"
            )
    finally:
        ioc.terminate()
        ioc.wait(10)


if __name__ == "__main__":
    main()
