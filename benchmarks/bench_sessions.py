"""Whole-process timings a user feels, each beside a bare baseline measured in the same run:

  * the demo (catalog, live analysis, figures): wall time, simulated / wall time (goal >= 200x),
    peak RSS, and where its threads' busy time goes (a sampling profiler: every 10 ms, each
    thread the kernel has running, by thread and the package of its innermost Python frame;
    the RunEngine runs plans on a thread of its own, which cProfile never sees);
  * ``replay UID --print`` of the demo's series (47 simulated minutes, two particles imaged
    every minute): goal < 5 s; baseline: a bare process importing what it needs;
  * ``ipython --sim`` until it has run its first input (the catalog opens meanwhile, on a
    thread of its own): goal < 5 s; baseline: plain IPython doing the same;
  * ``--help``: goal < 1 s; baseline: ``python -c pass``.

Run: ``python benchmarks/bench_sessions.py``
"""

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

CLI = [sys.executable, "-m", "stxm_operando.cli"]
BARE_REPLAY_IMPORTS = "import tiled.client, bluesky_tiled_plugins, pandas, dask.array, bluesky"


def run(
    argv, cwd, stdin: str | None = None, env=None, marker: str | None = None
) -> tuple[float, float, str]:
    """Wall time (s) until the process ends, or until it prints ``marker``; its peak RSS
    (MiB) and stdout."""
    errors = tempfile.TemporaryFile("w+")
    start = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    process.stdin.write(stdin or "")
    process.stdin.close()
    output, wall = "", None
    for line in process.stdout:
        output += line
        if marker and wall is None and marker in line:
            wall = time.perf_counter() - start
    _, status, usage = os.wait4(process.pid, 0)
    wall = wall or time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    errors.seek(0)
    if code != 0:
        raise RuntimeError(f"{argv} ended with {code}:\n{output[-1000:]}\n{errors.read()[-3000:]}")
    return wall, usage.ru_maxrss / 1024, output


SAMPLE_S = 0.01


def package_of(filename: str) -> str:
    """The package a frame belongs to (stxm_operando by subpackage, the standard library by
    module: "python:json")."""
    if "stxm_operando" in filename:
        part = filename.split("stxm_operando/")[-1]
        return "stxm_operando." + part.split("/")[0].removesuffix(".py")
    match = re.search(r"site-packages/([A-Za-z0-9_]+)", filename)
    if match:
        return match.group(1)
    match = re.search(r"python3\.\d+/([A-Za-z0-9_]+)", filename)
    return f"python:{match.group(1).removesuffix('.py')}" if match else "python"


def thread_kind(name: str) -> str:
    """ "Thread-3 (run_forever)" -> "run_forever"; "catalog-writer_0" -> "catalog-writer"."""
    match = re.fullmatch(r"Thread-\d+ \((.+)\)", name)
    return match.group(1) if match else re.sub(r"[-_]\d+$", "", name)


def is_running(native_id: int) -> bool:
    """Whether the kernel has this thread of ours running (state R), not waiting."""
    try:
        stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    except OSError:  # the thread ended
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "R"


class Sampler(threading.Thread):
    """Every ``SAMPLE_S``, counts each other thread that the kernel has running by (thread
    name, package of its innermost Python frame): busy time only, never waiting."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="sampler")
        self.samples: Counter = Counter()
        self.ticks = 0
        self.running = True

    def run(self) -> None:
        threads: dict[int, tuple[str, int]] = {}
        while self.running:
            self.ticks += 1
            for ident, frame in sys._current_frames().items():
                if ident == self.ident:
                    continue
                if ident not in threads:
                    thread = threading._active.get(ident)
                    if thread is None or thread.native_id is None:
                        continue
                    threads[ident] = (thread_kind(thread.name), thread.native_id)
                name, native_id = threads[ident]
                if is_running(native_id):
                    self.samples[(name, package_of(frame.f_code.co_filename))] += 1
            time.sleep(SAMPLE_S)

    def breakdown(self, wall_s: float, top: int = 14) -> list[tuple[str, str, float]]:
        """(thread, package, busy thread-seconds), largest first."""
        per_tick = wall_s / self.ticks
        return [(t, p, n * per_tick) for (t, p), n in self.samples.most_common(top)]


def profiled_demo(folder: Path) -> tuple[float, list[tuple[str, str, float]]]:
    """Run the demo in this process under the sampler: (wall s, breakdown)."""
    from stxm_operando.demo import run_demo

    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    run_demo(output=folder / "out-profiled", catalog=str(folder / "profiled"), progress=False)
    wall = time.perf_counter() - start
    sampler.running = False
    sampler.join()
    return wall, sampler.breakdown(wall)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, STXM_OPERANDO_CATALOG=str(Path(tmp) / "catalog"))
        env["QT_QPA_PLATFORM"] = "offscreen"
        demo_s, demo_rss, output = run([*CLI, "demo", "--output", "out"], tmp, env=env)
        simulated_min = float(re.search(r"simulated ([0-9.]+) min", output).group(1))
        uid = re.search(r"operando run ([0-9a-f-]+)", output).group(1)
        replay_s, replay_rss, _ = run([*CLI, "replay", uid, "--print"], tmp, env=env)
        bare_replay_s, bare_replay_rss, _ = run(
            [sys.executable, "-c", BARE_REPLAY_IMPORTS], tmp, env=env
        )
        session = "print('READY')\nexit\n"
        ipython_s, _, _ = run(
            [*CLI, "ipython", "--sim"], tmp, stdin=session, env=env, marker="READY"
        )
        bare_ipython_s, _, _ = run(
            [sys.executable, "-m", "IPython", "--no-banner"],
            tmp,
            stdin=session,
            env=env,
            marker="READY",
        )
        help_s, _, _ = run([*CLI, "--help"], tmp, env=env)
        bare_s, _, _ = run([sys.executable, "-c", "pass"], tmp, env=env)
        # last: a child forked from a large process would report the parent's RSS as its peak
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        profiled_s, breakdown = profiled_demo(Path(tmp))

    speed = simulated_min * 60 / demo_s

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    print("whole-process timings (2-core machine), each with its bare baseline")
    print(
        f"  demo: {simulated_min:.1f} simulated min in {demo_s:.1f} s = {speed:.0f}x real time "
        f"(goal >= 200x: {verdict(speed >= 200)}); peak RSS {demo_rss:.0f} MiB"
    )
    print(
        f"    where the busy time goes, in thread-seconds (sampled, in-process run of "
        f"{profiled_s:.0f} s):"
    )
    for thread, package, seconds in breakdown:
        print(f"      {thread:24s} {package:32s} {seconds:6.1f} s")
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
