"""The README's Python blocks run as written (in a fresh folder, a fresh interpreter)."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of one '## ' section of the README."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], re.S)


def test_the_analysis_block_measures_a_4c_lithiation(tmp_path):
    (block,) = python_blocks("Analysis")
    check = (
        "\nassert len(chans) >= 15 and np.all(np.isfinite(j_ch))"
        "\nassert np.nanmean(j_ch) > 0  # positive on lithiation"
        "\nrate_4c = 4 / 3600  # 1/s: the electrode's mean dx/dt at 4C"
        "\nassert abs(np.nanmean(rate[mask]) / rate_4c - 1) < 0.3, np.nanmean(rate[mask])"
        "\nassert stats.mean_surface >= stats.mean_internal - 0.05"
    )
    done = subprocess.run(
        [sys.executable, "-c", block + check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "channels, mean j_Ch" in done.stdout


def run_block(block: str, tmp_path: Path, check: str = "") -> subprocess.CompletedProcess:
    """A README block in a fresh interpreter, in a fresh folder with its own home."""
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("STXM_OPERANDO_CATALOG", None)
    return subprocess.run(
        [sys.executable, "-c", block + check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_devices_block_runs_as_written(tmp_path):
    block = python_blocks("Devices in IPython")[0]
    check = (
        "\nlog = p.read_log()"
        "\nassert log['time'][-1] >= 300 and abs(log['current'][-1] - 4e-6) < 1e-9"
        "\nassert bl.shutter.is_open.get() == 0  # the image was taken with the beam gated"
    )
    done = run_block(block, tmp_path, check)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_plans_block_runs_as_written(tmp_path):
    (block,) = python_blocks("Plans, storage, replay and export")
    check = (
        "\nrows = analysis.summary(0.5)"
        "\nassert {r.direction for r in rows} == {'lithiation', 'delithiation'}"
        "\nassert all(0 <= r.mean_surface <= 1 for r in rows)"
    )
    done = run_block(block, tmp_path, check)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "stxm-data" / "catalog" / "catalog.db").exists()  # the default catalog


def test_the_methodscript_blocks_connect_to_the_simulated_instrument(tmp_path):
    """The section's shell line starts the simulator; its Python block connects to it (on a
    free port, so parallel tests never share one)."""
    section = "A real potentiostat: PalmSens MethodSCRIPT (EmStat4, Nexus)"
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    (command,) = re.findall(r"```bash\n(.*?)```", text[start : text.find("\n## ", start + 1)], re.S)
    (block,) = python_blocks(section)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    argv = [arg.replace("5600", port) for arg in command.strip().removesuffix("&").split()]
    assert argv[:2] == ["stxm-operando", "potentiostat-sim"]
    simulator = subprocess.Popen(  # the console script, as the module (same entry point)
        [sys.executable, "-m", "stxm_operando.cli", *argv[1:]], stdout=subprocess.PIPE, text=True
    )
    try:
        assert "MethodSCRIPT instrument" in simulator.stdout.readline()
        done = run_block(block.replace("5600", port), tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        model, voltage = done.stdout.splitlines()
        assert model == "EmStat4 HR ES4HRSIM0001 fw 14"
        assert abs(float(voltage.split()[0]) - 3.42) < 0.05  # LiFePO4's plateau
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
