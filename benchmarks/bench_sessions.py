"""Whole-process timings a user feels, each beside a bare baseline measured in the same run:

  * the demo (catalog, live analysis, figures): wall time, simulated / wall time (goal >= 200x),
    peak RSS, and where its Python time goes (py-spy sampling the thread that holds the GIL,
    by thread and the package of its innermost frame: the RunEngine runs plans on a thread
    of its own, which cProfile never sees, and a sampler inside the process only ever sees
    threads that have let go of the GIL);
  * ``replay UID --print`` of the demo's series (47 simulated minutes, two particles imaged
    every minute): goal < 5 s; and of a 20-minute series (a 4C lithiation, then a rest):
    goal < 4 s; baselines: a bare interpreter, a bare ``import tiled.client`` and a bare
    process importing what a replay needs; and, in a fresh process, the demo's replay split
    into opening the catalog (imports included), reading the series' documents and their
    analysis;
  * ``export UID --nxstxm --csv`` of the demo's series: goal < 10 s;
  * the monitor (offscreen) opening the demo's series from its run browser's catalog, until
    its last frame is shown: goal < 3 s from the request (a user choosing the run in the
    browser); also from process start;
  * ``ipython --sim`` until it has run its first input (the catalog opens meanwhile, on a
    thread of its own): goal < 5 s; baseline: plain IPython doing the same;
  * ``--help``: goal < 1 s; baseline: ``python -c pass``.

Run: ``python benchmarks/bench_sessions.py``
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

CLI = [sys.executable, "-m", "stxm_operando.cli"]
BARE_REPLAY_IMPORTS = "import tiled.client, bluesky_tiled_plugins, pandas, dask.array, bluesky"
REPLAY_SPLIT = """
import os, sys, time
start = time.perf_counter()
from stxm_operando.storage.replay import replay_documents
from stxm_operando.storage import open_catalog
with open_catalog(os.environ["STXM_OPERANDO_CATALOG"], read_only=True) as catalog:
    opened = time.perf_counter()
    documents = list(replay_documents(catalog, sys.argv[1]))
read = time.perf_counter()
from stxm_operando.live_callbacks import OperandoAnalysis
analysis = OperandoAnalysis()
for name, doc in documents:
    analysis(name, doc)
print(opened - start, read - opened, time.perf_counter() - read, len(documents))
"""
TWENTY_MINUTE_SERIES = """
import os
from bluesky import RunEngine
from stxm_operando.devices import simulated_beamline
from stxm_operando.plans import Galvanostatic, Rest, find_particles, operando
from stxm_operando.storage import open_catalog
beamline = simulated_beamline()
with open_catalog(os.environ["STXM_OPERANDO_CATALOG"]) as catalog:
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(catalog.writer())
    rois = RE(find_particles(beamline, num_x=80, num_y=60, dwell_ms=0.5)).plan_result
    protocol = [Galvanostatic(c_rate=4.0, until_V=3.0), Rest(420.0)]
    result = RE(operando(beamline, protocol, rois, every_s=60.0))
print("operando run", result.run_start_uids[0], beamline.world.clock_s / 60)
"""
MONITOR_OPENS_A_RUN = """
import os, sys, time
from qtpy.QtWidgets import QApplication
from stxm_operando.gui.monitor import MonitorWindow
from stxm_operando.storage import open_catalog
app = QApplication([])
catalog = open_catalog(os.environ["STXM_OPERANDO_CATALOG"], read_only=True)
window = MonitorWindow(catalog=catalog)
window.show()
opening = time.perf_counter()
window.open_stored_run(sys.argv[1])
while not window.sources[-1].isFinished():
    app.processEvents()
    time.sleep(0.005)
window.refresh()
app.processEvents()
print("SHOWN", len(window.frames), time.perf_counter() - opening, flush=True)
catalog.close()
"""


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


PROFILE_HZ = 100


def package_of(frame: str) -> str:
    """The package of a py-spy frame, "func (package/module.py:line)": stxm_operando by
    subpackage ("stxm_operando.sim")."""
    path = frame.rpartition(" (")[2]
    if path.startswith("<frozen importlib"):
        return "imports"
    parts = re.split(r"[/:]", path)
    if parts[0] == "stxm_operando" and len(parts) > 2:
        return "stxm_operando." + parts[1].removesuffix(".py")
    return parts[0].removesuffix(".py")


def thread_kind(frame: str) -> str:
    """py-spy's thread frame, "thread (TID): NAME", as a kind: "Thread-3 (run_forever)" ->
    "run_forever"; "catalog-writer_0" -> "catalog-writer"; "asyncio-portal-7f3a..." ->
    "asyncio-portal"."""
    name = frame.partition("): ")[2].strip().strip('"') or "unnamed"
    match = re.fullmatch(r"Thread-\d+ \((.+)\)", name)
    name = match.group(1) if match else name
    return re.sub(r"[-_](\d+|[0-9a-f]{6,})$", "", name)


def profiled_demo(folder: Path, env: dict) -> tuple[float, list[tuple[str, str, float]]]:
    """Run the demo under py-spy, which samples (``PROFILE_HZ``) whichever thread holds the
    GIL: where the Python time goes, by thread and the package of its innermost frame.
    Returns (wall s, [(thread, package, s)] largest first); no breakdown without py-spy."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    raw = folder / "demo.raw"
    demo = [*CLI, "demo", "--output", "out-profiled", "--catalog", str(folder / "profiled")]
    argv = [spy, "record", "--gil", "--threads", "-r", str(PROFILE_HZ), "-f", "raw"]
    try:
        wall, _, _ = run([*argv, "-o", str(raw), "--", *demo], folder, env=env)
    except (OSError, RuntimeError) as err:  # no py-spy, or no permission to trace
        print(f"  (no profile: {str(err)[:200]})")
        return 0.0, []
    samples: Counter = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        innermost = package_of(frames[-1]) if len(frames) > 1 else "(no Python frame)"
        samples[(thread_kind(frames[0]), innermost)] += int(count)
    return wall, [(t, p, n / PROFILE_HZ) for (t, p), n in samples.most_common(14)]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, STXM_OPERANDO_CATALOG=str(Path(tmp) / "catalog"))
        env["QT_QPA_PLATFORM"] = "offscreen"
        demo_s, demo_rss, output = run([*CLI, "demo", "--output", "out"], tmp, env=env)
        simulated_min = float(re.search(r"simulated ([0-9.]+) min", output).group(1))
        uid = re.search(r"operando run ([0-9a-f-]+)", output).group(1)
        replay_s, replay_rss, _ = run([*CLI, "replay", uid, "--print"], tmp, env=env)
        _, _, series = run([sys.executable, "-c", TWENTY_MINUTE_SERIES], tmp, env=env)
        short_uid, short_min = series.split()[-2:]
        short_replay_s, _, _ = run([*CLI, "replay", short_uid, "--print"], tmp, env=env)
        export = ["export", uid, "--nxstxm", "series.nxs", "--csv", "csv"]
        export_s, _, _ = run([*CLI, *export], tmp, env=env)
        monitor_s, _, shown = run(
            [sys.executable, "-c", MONITOR_OPENS_A_RUN, uid], tmp, env=env, marker="SHOWN"
        )
        tiled_client_s, _, _ = run([sys.executable, "-c", "import tiled.client"], tmp, env=env)
        bare_replay_s, bare_replay_rss, _ = run(
            [sys.executable, "-c", BARE_REPLAY_IMPORTS], tmp, env=env
        )
        _, _, split = run([sys.executable, "-c", REPLAY_SPLIT, uid], tmp, env=env)
        opening_s, reading_s, analysis_s, documents = split.split()[-4:]
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
        profiled_s, breakdown = profiled_demo(Path(tmp), env)

    speed = simulated_min * 60 / demo_s

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    print("whole-process timings (2-core machine), each with its bare baseline")
    print(
        f"  demo: {simulated_min:.1f} simulated min in {demo_s:.1f} s = {speed:.0f}x real time "
        f"(goal >= 200x: {verdict(speed >= 200)}); peak RSS {demo_rss:.0f} MiB"
    )
    print(
        f"    where the Python time goes, in seconds holding the GIL (py-spy --gil, a run of "
        f"{profiled_s:.0f} s under the profiler):"
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
        f"  replay --print of a {float(short_min):.0f}-minute series: {short_replay_s:.1f} s "
        f"(goal < 4 s: {verdict(short_replay_s < 4)}); python -c pass {bare_s:.2f} s, "
        f"import tiled.client {tiled_client_s:.1f} s; replay / tiled.client "
        f"{short_replay_s / tiled_client_s:.1f}x"
    )
    print(
        f"  export --nxstxm --csv of the demo's series: {export_s:.1f} s (goal < 10 s: "
        f"{verdict(export_s < 10)})"
    )
    frames_shown, opened_s = shown.split()[-2], float(shown.split()[-1])
    print(
        f"  the monitor opening it ({frames_shown} frames shown): {opened_s:.1f} s from the "
        f"request (goal < 3 s: {verdict(opened_s < 3)}), {monitor_s:.1f} s from process start"
    )
    print(
        f"    in a fresh process: opening the catalog {float(opening_s):.1f} s (its imports "
        f"included), reading the series' {documents} documents {float(reading_s):.1f} s, "
        f"their analysis {float(analysis_s):.1f} s (its imports included)"
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
