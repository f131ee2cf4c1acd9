"""A catalog of bluesky runs, embedded in a directory or on a tiled server.

The embedded catalog is a tiled SQL catalog (SQLite plus zarr files) in a local directory:
read through tiled's catalog adapter in this process, and written through tiled's
application served in-process, with no server to start. The same code reads and writes a
tiled server given its URI and API key. Every document is also appended, as it arrives, to
a per-run journal (``stxm_operando.storage.journal``) before it reaches the (batching)
tiled writer, so a run cut off by a crash is still complete on disk and replays from it.
"""

import os
import re
import shutil
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import API_KEY_ENV
from .catalog_dir import (
    CatalogError,
    WriteTurn,
    check_writable,
    database_for_reading,
    database_for_writing,
)
from .journal import read_journal
from .reading import UID_PREFIX_MIN, AdapterReader, ClientReader
from .tiled_app import build_catalog_app, catalog_adapter, shut_down
from .writer import CatalogWriter


class UnknownRunError(KeyError):
    """No run with that id is in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0])


JOURNAL_ROOT_ENV = "STXM_OPERANDO_JOURNAL"


def journal_root() -> Path:
    """Where journals of remote catalogs are kept on this machine: ``$STXM_OPERANDO_JOURNAL``
    or ``~/.local/share/stxm-operando/journal``."""
    default = Path("~/.local/share/stxm-operando/journal")
    return Path(os.environ.get(JOURNAL_ROOT_ENV) or default).expanduser()


def _slug(uri: str) -> str:
    """A folder name for a catalog URI: host_port/path with unsafe characters as '_'."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", uri.split("://", 1)[-1]).strip("_")


class Catalog:
    """A catalog of bluesky runs. Use ``Catalog.embedded(path)`` or ``Catalog.remote(uri)``.

    Parameters
    ----------
    reader : what the catalog is read through (``storage.reading``).
    journal_dir : where per-run journals are written (None: no journal).
    location : the directory or URI, for messages.
    client : the tiled client of the catalog's root container, or a function that makes
        it (and the in-process tiled context that ``close()`` shuts down) on first use.
    """

    def __init__(
        self, reader, journal_dir: Path | None, location: str, client, read_only: bool = False
    ) -> None:
        self.journal_dir, self.location, self.read_only = journal_dir, location, read_only
        self._reader = reader
        self._client, self._context = (None, None) if callable(client) else (client, None)
        self._connect = client if callable(client) else None
        self._connecting = threading.Lock()
        self._writers: list[CatalogWriter] = []
        self._scratch: Path | None = None
        self.storing = WriteTurn(None)
        """Held by a writer while it stores: writers take turns (those of an embedded
        catalog across processes too), so none fails on SQLite's write lock."""

    @classmethod
    def embedded(cls, path: str | Path, read_only: bool = False) -> "Catalog":
        """Open the file-backed catalog in directory ``path``.

        For writing (the default) the directory is created if needed and proven writable.
        ``read_only`` writes nothing into it (no probe, no new catalog: CatalogError if
        there is none) and reads it without building tiled's web application. A directory
        that was moved or copied is found where it is now: in place when writing, through a
        relocated copy of its database when reading.
        """
        path = Path(path).expanduser().resolve()
        scratch, turn = None, None
        if read_only:
            database, scratch = database_for_reading(path)
        else:
            database = database_for_writing(path)
            turn = WriteTurn(path)

        def connect():
            from tiled.client import Context, from_context

            app = build_catalog_app(path, database=database, read_only=read_only)
            with warnings.catch_warnings():  # tiled's in-process transport: starlette's client
                warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
                context = Context.from_app(app)
            return from_context(context), context

        if read_only:
            reader, client = AdapterReader(catalog_adapter(path, database, read_only=True)), connect
        else:
            with turn:  # two sessions creating one catalog: one creates, the other opens it
                client, context = connect()
            reader = ClientReader(client)
        catalog = cls(reader, path / "journal", str(path), client, read_only)
        if not read_only:
            catalog._context, catalog.storing = context, turn
        catalog._scratch = scratch
        threading._register_atexit(catalog.close)  # before tiled's own hook: bounded
        return catalog

    @classmethod
    def remote(
        cls, uri: str, api_key: str | None = None, journal_dir: str | Path | None = None
    ) -> "Catalog":
        """Connect to a tiled server. Every run written through it is also journaled on this
        machine, in ``journal_dir`` (default: ``journal_root() / host_port``), so a run cut
        off by a crash is readable and replayable from here."""
        from tiled.client import from_uri

        try:
            client = from_uri(uri, api_key=api_key)
        except Exception as err:  # tiled raises several connection error types
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            if api_key is None and "api_key" in str(err).lower().replace("-", "_"):
                reason = f"the server needs an API key: set {API_KEY_ENV}"
            raise CatalogError(f"cannot open the catalog at {uri}: {reason}") from err
        journal = Path(journal_dir).expanduser() if journal_dir else journal_root() / _slug(uri)
        check_writable(journal)
        return cls(ClientReader(client), journal, uri, client)

    @property
    def client(self):
        """The tiled client of the catalog's root container (of an embedded catalog opened
        for reading: served in-process from first use)."""
        with self._connecting:
            if self._client is None:
                if self._connect is None:
                    raise CatalogError(f"{self} is closed")
                self._client, self._context = self._connect()
            return self._client

    def __repr__(self) -> str:
        return f"Catalog({self.location!r})"

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Let the writers finish, then release the reader and the in-process server."""
        for writer in self._writers:
            writer.stop()
        self._writers.clear()
        self._reader.close()
        with self._connecting:
            self._connect = None
            if self._context is not None:
                shut_down(self._context)
                self._context = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def writer(self, batch_size: int = 500) -> CatalogWriter:
        """A RunEngine callback that stores every document in this catalog; a stream's
        events reach tiled ``batch_size`` at a time (the rest at the run's end: every tiled
        request costs tens of ms in the server, whatever it carries)."""
        if self.read_only:
            raise CatalogError(f"{self} was opened read-only")
        writer = CatalogWriter(self, batch_size)
        self._writers.append(writer)
        return writer

    def count(self) -> int:
        """The number of runs."""
        return self._reader.count()

    def uids(self) -> list[str]:
        """Start uids of all runs, oldest first."""
        return self._reader.uids({})

    def search(self, **metadata: Any) -> list[str]:
        """Start uids of runs whose start document has these key = value pairs, oldest
        first."""
        return self._reader.uids(metadata)

    def starts(self, **metadata: Any) -> list[dict]:
        """Start documents of the runs whose start document has these key = value pairs,
        oldest first, read together (not one request per run)."""
        return [summary["start"] for summary in self._reader.summaries(metadata)]

    def summaries(self, **metadata: Any) -> list[dict]:
        """``{"start": ..., "stop": ...}`` of the runs whose start document has these key =
        value pairs, oldest first (stop None while a run runs or if it was cut off)."""
        return self._reader.summaries(metadata)

    def next_scan_id(self, md: dict | None = None) -> int:
        """The scan id a new run gets: one more than the largest in the catalog, so scan ids
        stay unique across sessions (a RunEngine's ``scan_id_source``)."""
        return self._reader.last_scan_id() + 1

    def _uid(self, uid: str) -> str:
        """The full start uid of a run named by its uid or a unique prefix of it."""
        if not isinstance(uid, str) or not uid:
            raise UnknownRunError(f"run ids are non-empty strings, got {uid!r}")
        matches = self._reader.uids({"uid": uid})
        if not matches and len(uid) >= UID_PREFIX_MIN:
            matches = self._reader.uids({}, uid_prefix=uid)
        if len(matches) == 1:
            return matches[0]
        if len(uid) < UID_PREFIX_MIN:
            raise UnknownRunError(
                f"no run {uid!r} in {self}: a uid prefix needs {UID_PREFIX_MIN} characters"
            )
        if matches:
            raise UnknownRunError(f"{len(matches)} runs in {self} have uids starting {uid!r}")
        raise UnknownRunError(f"no run {uid!r} in {self}")

    def run(self, uid: str):
        """The stored run (a bluesky-tiled-plugins BlueskyRun); a unique uid prefix of at
        least 5 characters also works. UnknownRunError if absent."""
        return self.client[self._uid(uid)]

    def resolve(self, run_id: str | int) -> str:
        """The full start uid of a run named by its uid, a unique uid prefix (5 characters
        or more) or its scan id (digits that are no run's scan id may still begin a uid).
        UnknownRunError if none, or if several runs have that scan id (catalogs written
        before scan ids went on across sessions), naming them."""
        text = str(run_id).strip()
        if text.isdigit() and int(text) < 2**63:  # scan ids are stored as 64-bit integers
            matches = self.search(scan_id=int(text))
            if len(matches) > 1:
                raise UnknownRunError(
                    f"{len(matches)} runs in {self} have scan id {text}: give a uid prefix "
                    f"({', '.join(uid[:8] for uid in matches)})"
                )
            if matches:
                return matches[0]
            if len(text) < UID_PREFIX_MIN:
                raise UnknownRunError(f"no run with scan id {text} in {self}")
        return self._uid(text)

    def start(self, uid: str) -> dict:
        """The start document of a run."""
        return dict(self._reader.metadata(self._uid(uid))["start"])

    def documents(self, uid: str) -> Iterator[tuple[str, dict]]:
        """The run's documents, stream by stream. A run with no stop document in the catalog
        (cut off) is read from its journal when this machine has it, else as far as the
        catalog has it (no stop: tiled keeps an empty one for a run that never ended)."""
        uid = self._uid(uid)
        journal = self.journal_path(uid)
        stopped = bool(self._reader.metadata(uid).get("stop"))
        if not stopped and journal is not None and journal.exists():
            yield from read_journal(journal)
            return
        try:
            for name, doc in self._reader.documents(uid):
                if name != "stop" or doc:
                    yield name, doc
        except Exception as err:  # damaged data files surface as the reader's errors
            journal_note = (
                f"; its journal {journal} has a copy" if journal and journal.exists() else ""
            )
            raise CatalogError(
                f"run {uid} cannot be read from {self}: {type(err).__name__}: {err}{journal_note}"
            ) from err

    def journal_path(self, uid: str) -> Path | None:
        """Where this machine journals run ``uid`` (None: no journal)."""
        return None if self.journal_dir is None else self.journal_dir / f"{uid}.jsonl"


def is_server_uri(location: str | Path) -> bool:
    """Whether ``location`` names a tiled server (http/https) rather than a directory."""
    return str(location).startswith(("http://", "https://"))


def open_catalog(
    location: str | Path, api_key: str | None = None, read_only: bool = False
) -> Catalog:
    """A catalog from a tiled URI (http/https) or a directory (created if absent, unless
    ``read_only``)."""
    if is_server_uri(location):
        return Catalog.remote(str(location), api_key=api_key)
    return Catalog.embedded(location, read_only=read_only)
