"""Replay stored runs through the same callbacks that ran live."""

import heapq
from collections.abc import Callable, Iterable, Iterator

from event_model import unpack_event_page

from .catalog import Catalog

Callback = Callable[[str, dict], None]


def series_uids(catalog: Catalog, uid: str) -> list[str]:
    """The run and, for an operando run, every image run of its series (oldest first)."""
    start = catalog.start(uid)
    if start.get("plan_name") != "operando":
        return [uid]
    images = catalog.search(series_id=start["series_id"], plan_name="operando_images")
    return [uid, *images]


def _time(item: tuple[str, dict]) -> float:
    """When a document was made, s (an event page: its first event)."""
    time = item[1].get("time", 0.0)
    return time[0] if isinstance(time, list) else time


def _order(item: tuple[str, dict]) -> tuple[int, float]:
    return {"start": 0, "stop": 2}.get(item[0], 1), _time(item)


def replay_documents(catalog: Catalog, uid: str) -> Iterator[tuple[str, dict]]:
    """Documents of a run (and its series) interleaved in the order they were made.

    The catalog returns a run stream by stream; each run is put back in time order (start
    first, stop last) and the runs of a series are merged by time.
    """
    runs = [sorted(catalog.documents(run), key=_order) for run in series_uids(catalog, uid)]
    yield from heapq.merge(*runs, key=_time)


def unpacked_documents(
    documents: Iterable[tuple[str, dict]],
) -> Iterator[tuple[str, dict]]:
    """The documents with each event page given as its events."""
    for name, doc in documents:
        if name == "event_page":
            yield from (("event", event) for event in unpack_event_page(doc))
        else:
            yield name, doc


def replay(catalog: Catalog, uid: str, *callbacks: Callback) -> int:
    """Feed a stored run's documents to callbacks; returns how many documents were sent."""
    count = 0
    for name, doc in replay_documents(catalog, uid):
        for callback in callbacks:
            callback(name, doc)
        count += 1
    return count
