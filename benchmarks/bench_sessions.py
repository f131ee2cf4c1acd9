"""Whole-process timings a user feels, each beside a bare baseline measured in the same run:

  * the demo (catalog, live analysis, figures): wall time, simulated / wall time (goal >= 200x),
    peak RSS, and where the RunEngine thread's time goes (cProfile, by package);
  * ``replay UID --print`` of the demo's series (47 simulated minutes, two particles imaged
    every minute): goal < 5 s; baseline: a bare process importing what it needs;
  * ``ipython --sim`` until it has read and run its first input: goal < 5 s; baseline: plain
    IPython doing the same;
  * ``--help``: goal < 1 s; baseline: ``python -c pass``.

Run: ``python benchmarks/bench_sessions.py``
"""

import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

CLI = [sys.executable, "-m", "stxm_operando.cli"]
BARE_REPLAY_IMPORTS = "import tiled.client, bluesky_tiled_plugins, pandas, dask.array, bluesky"


def run(argv, cwd, stdin: str | None = None, env=None) -> tuple[float, float, str]:
    """Wall time (s), peak RSS (MiB) and stdout of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    process.stdin.write(stdin or "")
    process.stdin.close()
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed:\n{output[-2000:]}")
    return wall, usage.ru_maxrss / 1024, output


def package_of(filename: str) -> str:
    """The package a profiled function belongs to (stxm_operando by subpackage)."""
    if "stxm_operando" in filename:
        part = filename.split("stxm_operando/")[-1]
        return "stxm_operando." + part.split("/")[0].removesuffix(".py")
    match = re.search(r"site-packages/([A-Za-z0-9_]+)", filename)
    if match:
        return match.group(1)
    return "python" if filename.startswith(("/usr", "<", "~")) else filename


def profile_breakdown(profile: Path, top: int = 12) -> list[tuple[str, float]]:
    """Own time (s) per package, largest first."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in pstats.Stats(str(profile)).stats.items():
        totals[package_of(filename)] += own
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, STXM_OPERANDO_CATALOG=str(Path(tmp) / "catalog"))
        env["QT_QPA_PLATFORM"] = "offscreen"
        demo_s, demo_rss, output = run([*CLI, "demo", "--output", "out"], tmp, env=env)
        simulated_min = float(re.search(r"simulated ([0-9.]+) min", output).group(1))
        uid = re.search(r"operando run ([0-9a-f-]+)", output).group(1)
        profile = Path(tmp) / "demo.prof"
        profiled_s, _, _ = run(
            [sys.executable, "-m", "cProfile", "-o", str(profile), *CLI[1:], "demo"],
            tmp,
            env=dict(env, STXM_OPERANDO_CATALOG=str(Path(tmp) / "catalog2")),
        )
        breakdown = profile_breakdown(profile)
        replay_s, replay_rss, _ = run([*CLI, "replay", uid, "--print"], tmp, env=env)
        bare_replay_s, bare_replay_rss, _ = run(
            [sys.executable, "-c", BARE_REPLAY_IMPORTS], tmp, env=env
        )
        session = "print('ready')\nexit\n"
        ipython_s, _, _ = run([*CLI, "ipython", "--sim"], tmp, stdin=session, env=env)
        bare_ipython_s, _, _ = run(
            [sys.executable, "-m", "IPython", "--no-banner"], tmp, stdin=session, env=env
        )
        help_s, _, _ = run([*CLI, "--help"], tmp, env=env)
        bare_s, _, _ = run([sys.executable, "-c", "pass"], tmp, env=env)

    speed = simulated_min * 60 / demo_s

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    print("whole-process timings (2-core machine), each with its bare baseline")
    print(
        f"  demo: {simulated_min:.1f} simulated min in {demo_s:.1f} s = {speed:.0f}x real time "
        f"(goal >= 200x: {verdict(speed >= 200)}); peak RSS {demo_rss:.0f} MiB"
    )
    print(f"    where the RunEngine thread's time goes (cProfile, {profiled_s:.0f} s profiled):")
    for package, seconds in breakdown:
        print(f"      {package:32s} {seconds:6.1f} s")
    print(
        f"  replay --print of the demo's series: {replay_s:.1f} s (goal < 5 s: "
        f"{verdict(replay_s < 5)}), peak RSS {replay_rss:.0f} MiB; bare imports "
        f"({BARE_REPLAY_IMPORTS.removeprefix('import ')}) {bare_replay_s:.1f} s, "
        f"{bare_replay_rss:.0f} MiB; replay / bare {replay_s / bare_replay_s:.1f}x"
    )
    print(
        f"  ipython --sim to its first input: {ipython_s:.1f} s (goal < 5 s: "
        f"{verdict(ipython_s < 5)}); plain IPython {bare_ipython_s:.1f} s; "
        f"ratio {ipython_s / bare_ipython_s:.1f}x"
    )
    print(
        f"  --help: {help_s:.2f} s (goal < 1 s: {verdict(help_s < 1)}); python -c pass "
        f"{bare_s:.2f} s; ratio {help_s / bare_s:.1f}x"
    )


if __name__ == "__main__":
    main()
