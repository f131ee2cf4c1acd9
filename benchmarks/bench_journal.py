"""The run journal's cost for a 512 x 512 two-energy frame pair, against the pair itself.

Measured side by side in one run: the documents of one simulated 512^2 frame pair (RunEngine
and simulator, no storage) are journaled (a) as the journal writes them, images as binary,
and (b) as JSON lines with images as nested lists (the baseline: how the journal wrote them
before). Goal: journal <= 10 % of the frame pair's time.
Run: ``python benchmarks/bench_journal.py``
"""

import json
import statistics
import tempfile
import time
from pathlib import Path

from bluesky import RunEngine

from stxm_operando.devices import simulated_beamline
from stxm_operando.plans import ParticleROI, two_energy_image
from stxm_operando.storage.journal import RunJournal, read_journal, to_json

SIZE = 512
REPEATS = 5


def frame_pair_documents() -> tuple[float, list[tuple[str, dict]]]:
    """Wall time of one 512^2 frame pair (s) and its documents."""
    documents = []
    RE = RunEngine({}, context_managers=[])
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    roi = ParticleROI(0, -0.9, 0.2, SIZE, SIZE)
    start = time.perf_counter()
    RE(two_energy_image(simulated_beamline(), roi, dwell_ms=0.05, step_nm=20.0))
    return time.perf_counter() - start, documents


def binary_journal(path: Path, documents) -> None:
    for old in (path, path.with_suffix(".arrays")):  # a journal appends: start afresh
        old.unlink(missing_ok=True)
    journal = RunJournal(path)
    for name, doc in documents:
        journal.write(name, doc)
    journal.close()


def json_lists_journal(path: Path, documents) -> None:
    with open(path, "w") as lines:
        for name, doc in documents:
            lines.write(json.dumps({"name": name, "doc": doc}, default=to_json) + "\n")


def median_s(action) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    pair_s, documents = frame_pair_documents()
    with tempfile.TemporaryDirectory() as tmp:
        binary, lists = Path(tmp) / "run.jsonl", Path(tmp) / "lists.jsonl"
        write_binary = median_s(lambda: binary_journal(binary, documents))
        write_lists = median_s(lambda: json_lists_journal(lists, documents))
        read_binary = median_s(lambda: list(read_journal(binary)))
        read_lists = median_s(lambda: [json.loads(line) for line in open(lists)])
        size_binary = binary.stat().st_size + binary.with_suffix(".arrays").stat().st_size
        size_lists = lists.stat().st_size
    print(f"journal of one {SIZE}^2 two-energy frame pair ({len(documents)} documents)")
    print(f"  the frame pair itself (RunEngine + simulator):   {pair_s * 1e3:8.1f} ms")
    print(
        f"  journal, images binary:   write {write_binary * 1e3:7.1f} ms "
        f"({write_binary / pair_s:.1%} of the pair; goal <= 10%: "
        f"{'met' if write_binary <= 0.1 * pair_s else 'NOT met'}), read {read_binary * 1e3:.1f} "
        f"ms, {size_binary / 1e6:.1f} MB"
    )
    print(
        f"  baseline, images as JSON lists: write {write_lists * 1e3:7.1f} ms "
        f"({write_lists / pair_s:.1%}), read {read_lists * 1e3:.1f} ms, "
        f"{size_lists / 1e6:.1f} MB"
    )
    print(
        f"  binary / JSON lists: write {write_binary / write_lists:.2f}x, read "
        f"{read_binary / read_lists:.2f}x, size {size_binary / size_lists:.2f}x"
    )


if __name__ == "__main__":
    main()
