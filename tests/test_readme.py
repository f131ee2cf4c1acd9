"""The README's Python blocks run as written (in a fresh folder, a fresh interpreter)."""

import re
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
