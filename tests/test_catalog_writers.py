"""Writers of one catalog: two processes take turns, and a catalog that cannot take a run
leaves it whole in its journal while the acquisition goes on."""

import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from bluesky import RunEngine

from stxm_operando.devices import simulated_beamline
from stxm_operando.plans import Galvanostatic, electrochemistry
from stxm_operando.storage import Catalog, CatalogError
from stxm_operando.storage.journal import read_journal


def assert_whole(documents: list, duration_s: float) -> None:
    """A successful run with every reading the instrument logged (its log index unbroken)
    over a galvanostatic protocol of ``duration_s`` (the simulated instrument logs every
    4/3 s: the first and the last reading are at most that far from the ends)."""
    assert documents[0][0] == "start"
    assert documents[-1][0] == "stop" and documents[-1][1]["exit_status"] == "success"
    pages = [
        d for name, d in documents if name in ("event", "event_page") and "ec_index" in d["data"]
    ]
    indices = [int(i) for doc in pages for i in np.atleast_1d(doc["data"]["ec_index"])]
    times = [t for doc in pages for t in np.atleast_1d(doc["data"]["ec_time"])]
    assert indices == list(range(indices[0], indices[0] + len(indices)))
    assert max(times) - min(times) >= duration_s - 2 * 4 / 3


TWO_WRITERS = textwrap.dedent("""
    import sys, time
    from bluesky import RunEngine
    from stxm_operando.devices import simulated_beamline
    from stxm_operando.plans import Galvanostatic, electrochemistry
    from stxm_operando.storage import Catalog
    path, start_at = sys.argv[1], float(sys.argv[2])
    time.sleep(max(start_at - time.time(), 0))  # both open (and create) the catalog at once
    with Catalog.embedded(path) as catalog:
        writer = catalog.writer(batch_size=10)  # many small writes: the most contention
        RE = RunEngine({}, context_managers=[])
        RE.subscribe(writer)
        bl = simulated_beamline()
        steps = [Galvanostatic(c_rate=1.0, duration_s=400.0)] * 2
        RE(electrochemistry(bl, steps, record_every_s=1.0, md={"writer": sys.argv[3]}))
        writer.flush()
    print("STORED", flush=True)
""")


def test_two_processes_writing_one_catalog_take_turns_and_lose_nothing(tmp_path):
    """Two sessions create one catalog at the same moment and then each write a run of
    hundreds of readings in small batches: neither fails, both runs are whole (without the
    turns one fails on "database is locked")."""
    path = tmp_path / "catalog"
    start_at = time.time() + 3.0  # both interpreters are up by then, even on a loaded machine
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_WRITERS, str(path), str(start_at), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    outputs = [writer.communicate(timeout=240) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0 and "STORED" in out, err[-2000:]
    with Catalog.embedded(path, read_only=True) as catalog:
        runs = catalog.search(plan_name="electrochemistry")
        assert sorted(catalog.start(uid)["writer"] for uid in runs) == ["first", "second"]
        for uid in runs:
            assert_whole(list(catalog.documents(uid)), 800.0)


def test_a_run_the_catalog_cannot_take_goes_on_and_its_journal_keeps_it(tmp_path, caplog):
    """Another program holds the catalog's database locked from the first reading on (longer
    than SQLite waits): the run ends as planned, the user is told, and the run reads back
    whole from its journal. Once the lock is gone the catalog takes the next run."""
    path = tmp_path / "catalog"
    with Catalog.embedded(path) as catalog:
        writer = catalog.writer(batch_size=10)
        RE = RunEngine({}, context_managers=[])
        RE.subscribe(writer)
        locker = sqlite3.connect(path / "catalog.db", isolation_level=None, check_same_thread=False)

        def lock_at_first_reading(name, doc):
            if name == "event" and not locker.in_transaction:
                locker.execute("BEGIN EXCLUSIVE")

        token = RE.subscribe(lock_at_first_reading)
        bl = simulated_beamline()
        steps = [Galvanostatic(c_rate=1.0, duration_s=100.0)]
        (uid,) = RE(electrochemistry(bl, steps, record_every_s=1.0))
        writer.flush()
        locker.execute("ROLLBACK")
        RE.unsubscribe(token)
        assert "locked" in writer.unstored[uid]
        assert str(catalog.journal_path(uid)) in caplog.text and "the run goes on" in caplog.text
        assert_whole(list(catalog.documents(uid)), 100.0)

        (next_uid,) = RE(electrochemistry(bl, steps, record_every_s=1.0))
        writer.flush()
        assert next_uid not in writer.unstored
        catalog.journal_path(next_uid).unlink()  # read from the catalog alone
        assert_whole(list(catalog.documents(next_uid)), 100.0)


def test_a_run_the_catalog_cannot_start_does_not_begin_and_no_current_flows(tmp_path):
    """The database locked before the run opens: the start document cannot be stored, so
    the run is refused at its start with the catalog's reason and the cell is never driven;
    the journal still holds the start."""
    path = tmp_path / "catalog"
    with Catalog.embedded(path) as catalog:
        writer = catalog.writer()
        RE = RunEngine({}, context_managers=[])
        RE.subscribe(writer)
        bl = simulated_beamline()
        driven = []
        RE.subscribe(lambda name, doc: driven.append(bl.potentiostat.output.get()))
        locker = sqlite3.connect(path / "catalog.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(CatalogError, match=r"cannot take run .*locked"):
                RE(electrochemistry(bl, [Galvanostatic(c_rate=1.0, duration_s=60.0)]))
        finally:
            locker.execute("ROLLBACK")
        assert bl.potentiostat.output.get() == 0 and set(driven) <= {0}
        (journal,) = catalog.journal_dir.glob("*.jsonl")
        assert [name for name, _ in read_journal(journal)][:1] == ["start"]
