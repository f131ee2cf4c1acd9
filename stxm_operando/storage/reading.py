"""Reading runs from a catalog: through tiled's SQL catalog adapter in this process (an
embedded catalog: no web application, a stream's table and arrays in one read each), or
through a tiled client (a catalog server).

Both readers give a run's documents as bluesky-tiled-plugins' JSON-seq export gives them:
the start document; its descriptors (``build_descriptor_docs``) and one event per stored
row, with the event uid ``event-{descriptor uid}-{seq_num}``, in time order; the stop
document (if the run has one).
"""

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

from .catalog_dir import CatalogError

READ_TIMEOUT_S = 120.0
"""Longest wait for one read of the in-process catalog, s."""

UID_PREFIX_MIN = 5
"""Shortest uid prefix that names a run (as bluesky-tiled-plugins' catalog has it)."""

Document = tuple[str, dict]


def _scan_ids():
    from tiled.queries import Comparison

    return Comparison("gt", "start.scan_id", 0)


def _matching(runs, metadata: dict[str, Any], uid_prefix: str | None):
    """``runs`` (a tiled catalog adapter or client: both ``search``) narrowed to the start
    documents with these key == value pairs and, if given, a uid beginning ``uid_prefix``."""
    from tiled.queries import Eq, Like

    queries = [Eq(f"start.{key}", value) for key, value in metadata.items()]
    if uid_prefix is not None:
        queries.append(Like("start.uid", f"{uid_prefix}%"))
    for query in queries:
        runs = runs.search(query)
    return runs


def _summary(metadata) -> dict:
    """A run's start and stop documents (stop None while it runs or if it was cut off)."""
    stop = metadata.get("stop")
    return {"start": dict(metadata["start"]), "stop": None if stop is None else dict(stop)}


def stream_events(descriptors: list[dict], columns: dict[str, Any]) -> list[dict]:
    """The events of a stream from its stored columns (``seq_num``, ``time``, a value column
    per data key and ``ts_KEY`` timestamps where stored; a key without one takes the row's
    time), each under the newest descriptor made before it.

    Examples
    --------
    >>> import numpy as np
    >>> descriptors = [{"uid": "d1", "time": 0.0}, {"uid": "d2", "time": 5.0}]
    >>> columns = {"seq_num": np.array([1, 2]), "time": np.array([1.0, 6.0]),
    ...            "current": np.array([0.5, 0.7]), "ts_current": np.array([0.9, 5.9])}
    >>> for event in stream_events(descriptors, columns):
    ...     print(event["uid"], event["data"], event["timestamps"])
    event-d1-1 {'current': 0.5} {'current': 0.9}
    event-d2-2 {'current': 0.7} {'current': 5.9}
    """
    seq_nums = [int(n) for n in columns["seq_num"]]
    times = [float(t) for t in columns["time"]]
    keys = [k for k in columns if k not in ("seq_num", "time") and not k.startswith("ts_")]
    values = {k: _rows(columns[k]) for k in keys}
    stamps = {k: _rows(columns.get(f"ts_{k}", columns["time"])) for k in keys}
    events = []
    for row, (seq_num, time) in enumerate(zip(seq_nums, times, strict=True)):
        descriptor = descriptors[0]["uid"]
        for later in descriptors[1:]:
            if later["time"] <= time:
                descriptor = later["uid"]
        events.append(
            {
                "seq_num": seq_num,
                "time": time,
                "uid": f"event-{descriptor}-{seq_num}",
                "descriptor": descriptor,
                "data": {k: values[k][row] for k in keys},
                "timestamps": {k: stamps[k][row] for k in keys},
            }
        )
    return events


def _rows(column) -> list:
    """A stored column as one value per row: Python scalars for a column of numbers,
    numpy arrays for a column of arrays (as the RunEngine made them)."""
    column = getattr(column, "to_numpy", lambda: column)()
    return column.tolist() if column.ndim == 1 and column.dtype != object else list(column)


class AdapterReader:
    """Reads an embedded catalog through tiled's SQL catalog adapter, on an event loop of a
    thread of its own (the adapter's SQLite connections stay on it). Any thread may call;
    calls take turns. After ``close()`` every call raises CatalogError.
    """

    def __init__(self, adapter) -> None:
        self._adapter = adapter
        self._loop = asyncio.new_event_loop()
        self._turn = threading.Lock()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="catalog-reader", daemon=True
        )
        self._thread.start()
        self._open = True
        try:
            self._call(adapter.startup())
        except Exception:
            self.close()
            raise

    def _call(self, coroutine: Coroutine):
        with self._turn:
            if not self._open:
                coroutine.close()
                raise CatalogError("the catalog is closed")
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
            return future.result(READ_TIMEOUT_S)

    def close(self) -> None:
        """Release the adapter's connections and end its thread."""
        if not self._open:
            return
        try:
            self._call(self._adapter.shutdown())
        finally:
            with self._turn:
                self._open = False
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(READ_TIMEOUT_S)
            if not self._thread.is_alive():
                self._loop.close()

    def _runs(self, metadata: dict[str, Any], uid_prefix: str | None = None):
        return _matching(self._adapter, metadata, uid_prefix)

    def count(self) -> int:
        return self._call(self._adapter.exact_len())

    def uids(self, metadata: dict[str, Any], uid_prefix: str | None = None) -> list[str]:
        return self._call(self._runs(metadata, uid_prefix).keys_range(0, None))

    def summaries(self, metadata: dict[str, Any]) -> list[dict]:
        """``{"start": ..., "stop": ...}`` of the matching runs (stop None while running)."""

        async def summaries():
            items = await self._runs(metadata).items_range(0, None)
            return [_summary(run.metadata()) for _, run in items]

        return self._call(summaries())

    def last_scan_id(self) -> int:
        """The largest scan id of any run (0 in a catalog without one)."""

        async def last():
            runs = self._adapter.search(_scan_ids()).sort([("start.scan_id", -1)])
            items = await runs.items_range(0, 1)
            return int(items[0][1].metadata()["start"]["scan_id"]) if items else 0

        return self._call(last())

    def metadata(self, uid: str) -> dict:
        """The run's metadata (its start and, once it ended, stop document); KeyError (tiled's
        NoEntry) if there is no such run."""

        async def metadata():
            return dict((await self._adapter.lookup_adapter([uid])).metadata())

        return self._call(metadata())

    def documents(self, uid: str) -> Iterator[Document]:
        from bluesky_tiled_plugins.exporters import build_descriptor_docs

        async def read_run():
            run = await self._adapter.lookup_adapter([uid])
            streams = await run.items_range(0, None)
            parts = await _every(_stream_columns(s) for _, s in streams)
            return dict(run.metadata()), [
                (name, dict(stream.metadata()), columns)
                for (name, stream), columns in zip(streams, parts, strict=True)
            ]

        metadata, streams = self._call(read_run())
        start = dict(metadata["start"])
        documents = []
        for name, stream_metadata, columns in streams:
            descriptors = build_descriptor_docs(stream_metadata, name, start["uid"])
            documents.extend(("descriptor", d) for d in descriptors)
            if columns:
                documents.extend(("event", e) for e in stream_events(descriptors, columns))
        documents.sort(key=lambda item: item[1]["time"])  # stable: a stream's order kept
        yield "start", start
        yield from documents
        if metadata.get("stop") is not None:
            yield "stop", dict(metadata["stop"])


async def _every(coroutines) -> list:
    """The results of concurrent reads; the first failure is raised only once every read
    has ended, so none is left running when the reader's loop is closed."""
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def _stream_columns(stream) -> dict[str, Any]:
    """A stream's stored columns: its table's (``internal``) and each array's."""
    external = {k for k, v in stream.metadata().get("data_keys", {}).items() if v.get("external")}
    if external:
        raise CatalogError(f"stream data stored outside the catalog ({sorted(external)})")
    parts = await stream.items_range(0, None)
    values = await _every(part.read() for _, part in parts)
    columns: dict[str, Any] = {}
    for (name, _), value in zip(parts, values, strict=True):
        if name == "internal":
            columns.update({column: value[column] for column in value.columns})
        else:
            columns[name] = value
    return columns


class ClientReader:
    """Reads a catalog server through a tiled client (bluesky-tiled-plugins' catalog)."""

    def __init__(self, client) -> None:
        self._client = client

    def close(self) -> None:
        """Nothing to release: the client's connection closes with the process."""

    def _runs(self, metadata: dict[str, Any], uid_prefix: str | None = None):
        return _matching(self._client, metadata, uid_prefix)

    def count(self) -> int:
        return len(self._client)

    def uids(self, metadata: dict[str, Any], uid_prefix: str | None = None) -> list[str]:
        return list(self._runs(metadata, uid_prefix).keys())

    def summaries(self, metadata: dict[str, Any]) -> list[dict]:
        return [_summary(run.metadata) for _, run in self._runs(metadata).items()]

    def last_scan_id(self) -> int:
        runs = self._client.search(_scan_ids()).sort(("start.scan_id", -1))
        for _, run in runs.items():
            return int(run.metadata["start"]["scan_id"])
        return 0

    def metadata(self, uid: str) -> dict:
        return dict(self._client[uid].metadata)

    def documents(self, uid: str) -> Iterator[Document]:
        yield from self._client[uid].documents()
