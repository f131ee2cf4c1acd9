"""Run storage: a databroker/tiled catalog, embedded in a directory or on a tiled server.

The embedded catalog is a tiled SQL catalog (SQLite plus zarr files) in a local directory,
served in-process, with no server to start. The same code writes to a tiled server given its
URI and API key. Every document is also appended, as it arrives, to a per-run journal (JSON
lines, images as binary; ``stxm_operando.journal``) before it reaches the (batching) tiled
writer, so a run cut off by a crash is still complete on disk and replays from its journal.
"""

import asyncio
import copy
import logging
import os
import queue
import re
import shutil
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .catalog_dir import (
    DATABASE,
    CatalogError,
    check_writable,
    database_for_reading,
    database_for_writing,
)
from .journal import RunJournal, read_journal

JSON_SEQ = "application/json-seq"
CATALOG_SPEC = {"name": "CatalogOfBlueskyRuns", "version": "3.0"}


class UnknownRunError(KeyError):
    """No run with that id is in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0])


JSON_SEQ_CHUNK_BYTES = 1 << 16
"""Documents of a run's JSON-seq export are sent in chunks of about this size, bytes."""


async def _chunked_json_seq_exporter(mimetype, adapter, metadata, filter_for_access):
    """bluesky-tiled-plugins' JSON-seq exporter, its records joined into chunks of about
    ``JSON_SEQ_CHUNK_BYTES``: it yields one record per event, and every chunk of a response
    costs a round trip between the client and the (in-process) server."""
    from bluesky_tiled_plugins.exporters import json_seq_exporter

    chunk, size = [], 0
    async for record in json_seq_exporter(mimetype, adapter, metadata, filter_for_access):
        chunk.append(record)
        size += len(record)
        if size >= JSON_SEQ_CHUNK_BYTES:
            yield "".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield "".join(chunk)


def _serialization_registry():
    from tiled.media_type_registration import default_serialization_registry

    registry = copy.copy(default_serialization_registry)
    registry.register("BlueskyRun", JSON_SEQ, _chunked_json_seq_exporter)
    return registry


def _initialize_database(uri: str) -> None:
    """Create tiled's catalog tables in an empty database and stamp its schema revision,
    as ``tiled catalog init --if-not-exists`` does, in this process.

    tiled's ``from_uri(init_if_not_exists=True)`` runs that command in a new interpreter
    (2-3 s of imports for every catalog created); here it runs on a thread of its own, whose
    event loops never meet the caller's (SQLite connections stay on the thread that made them).
    """
    from sqlalchemy.ext.asyncio import create_async_engine
    from tiled.alembic_utils import UninitializedDatabase, check_database, stamp_head
    from tiled.catalog.alembic_constants import ALEMBIC_DIR, ALEMBIC_INI_TEMPLATE_PATH
    from tiled.catalog.core import ALL_REVISIONS, REQUIRED_REVISION, initialize_database

    async def create_tables() -> bool:
        engine = create_async_engine(uri)
        try:
            await check_database(engine, REQUIRED_REVISION, ALL_REVISIONS)
            return False
        except UninitializedDatabase:
            await initialize_database(engine)
            return True
        finally:
            await engine.dispose()

    def initialize() -> None:
        if asyncio.run(create_tables()):
            with warnings.catch_warnings():  # alembic on tiled's ini: not ours to mend
                warnings.simplefilter("ignore", DeprecationWarning)
                stamp_head(ALEMBIC_INI_TEMPLATE_PATH, ALEMBIC_DIR, uri)

    with ThreadPoolExecutor(1, thread_name_prefix="catalog-init") as worker:
        try:
            worker.submit(initialize).result()
        except Exception as err:
            raise CatalogError(f"cannot initialise the catalog database: {err}") from err


def catalog_adapter(path: Path, database: Path | str | None = None):
    """The tiled SQL catalog adapter of the catalog whose arrays live in directory ``path``.

    ``database`` is its SQL database: by default ``path/catalog.db`` (created if absent),
    a relocated copy of it, or a ``postgresql://`` URI (initialised if empty).
    """
    from tiled.catalog import from_uri
    from tiled.utils import ensure_specified_sql_driver

    database = database or path / DATABASE
    if str(database).startswith("postgresql://"):
        uri, create = ensure_specified_sql_driver(str(database)), True
    else:
        uri = ensure_specified_sql_driver(f"sqlite:///{database}")
        create = not Path(database).exists()
    if create:
        _initialize_database(uri)
    return from_uri(
        uri,
        specs=[CATALOG_SPEC],
        writable_storage=[str(path / "data"), f"sqlite:///{path / 'tables.db'}"],
    )


def build_catalog_app(path: Path, api_key: str | None = None, database: Path | str | None = None):
    """A tiled ASGI app serving the catalog in ``path``; with ``api_key``, access needs it."""
    from tiled.config import Authentication
    from tiled.server.app import build_app

    logging.getLogger("tiled.server.app").setLevel(logging.WARNING)
    authentication = Authentication(single_user_api_key=api_key) if api_key else None
    return build_app(
        catalog_adapter(path, database),
        authentication=authentication,
        serialization_registry=_serialization_registry(),
    )


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_server_security(host: str, api_key: str | None) -> None:
    """A catalog server off loopback must require an API key (alphanumeric)."""
    if host not in LOOPBACK_HOSTS and not api_key:
        raise CatalogError(f"serving the catalog on {host} (not loopback) needs an API key")
    if api_key is not None and not api_key.isalnum():
        raise CatalogError("the API key must be letters and digits only")


SERVER_SHUTDOWN_S = 20.0
"""Longest wait for the in-process catalog server to shut down, s."""


def _shut_down(context) -> None:
    """Close an in-process tiled context, waiting at most ``SERVER_SHUTDOWN_S``.

    After a storage failure (a full disk) tiled's in-process server can wait forever for a
    request task at shutdown; the process would then hang at exit, where tiled hooks the same
    close. A server that does not stop in time is left to the daemon threads and its exit
    hook is removed, with a warning.
    """
    closer = threading.Thread(target=context.close, name="catalog-shutdown", daemon=True)
    closer.start()
    closer.join(SERVER_SHUTDOWN_S)
    if closer.is_alive():
        logging.getLogger(__name__).warning(
            "the in-process catalog server did not shut down within %.0f s", SERVER_SHUTDOWN_S
        )
    hooks = getattr(threading, "_threading_atexits", [])
    exit_hook = context.http_client.__exit__
    while exit_hook in hooks:  # tiled registers it (threading's own exit hooks)
        hooks.remove(exit_hook)


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
    client : tiled client of the catalog's root container.
    journal_dir : where per-run journals are written (None: no journal).
    context : the in-process tiled context of an embedded catalog, closed by ``close()``.
    """

    def __init__(self, client, journal_dir: Path | None, context=None, location: str = "") -> None:
        self.client, self.journal_dir, self._context = client, journal_dir, context
        self.location = location
        self._writers: list[CatalogWriter] = []
        self._scratch: Path | None = None
        self.storing = threading.Lock()
        """Held by a writer while it stores: this process's writers take turns, so two of
        them (a run's and its analysis') never contend for SQLite's write lock."""

    @classmethod
    def embedded(cls, path: str | Path, read_only: bool = False) -> "Catalog":
        """Open the file-backed catalog in directory ``path``.

        For writing (the default) the directory is created if needed and proven writable.
        ``read_only`` writes nothing into it (no probe, no new catalog: CatalogError if
        there is none). A directory that was moved or copied is found where it is now:
        in place when writing, through a relocated copy of its database when reading.
        """
        from tiled.client import Context, from_context

        path = Path(path).expanduser().resolve()
        scratch = None
        if read_only:
            database, scratch = database_for_reading(path)
        else:
            database = database_for_writing(path)
        with warnings.catch_warnings():  # tiled's in-process transport uses starlette's client
            warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
            context = Context.from_app(build_catalog_app(path, database=database))
        journal = path / "journal"
        catalog = cls(from_context(context), journal, context, str(path))
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
            raise CatalogError(f"cannot open the catalog at {uri}: {err}") from err
        journal = Path(journal_dir).expanduser() if journal_dir else journal_root() / _slug(uri)
        check_writable(journal)
        return cls(client, journal, location=uri)

    def __repr__(self) -> str:
        return f"Catalog({self.location!r})"

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Let the writers finish, then release the in-process server of an embedded catalog."""
        for writer in self._writers:
            writer.stop()
        self._writers.clear()
        if self._context is not None:
            _shut_down(self._context)
            self._context = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def writer(self, batch_size: int = 500) -> "CatalogWriter":
        """A RunEngine callback that stores every document in this catalog; a stream's
        events reach tiled ``batch_size`` at a time (the rest at the run's end: every tiled
        request costs tens of ms in the server, whatever it carries)."""
        writer = CatalogWriter(self, batch_size)
        self._writers.append(writer)
        return writer

    def count(self) -> int:
        """The number of runs."""
        return len(self.client)

    def uids(self) -> list[str]:
        """Start uids of all runs, oldest first."""
        return list(self.client.keys())

    def search(self, **metadata: Any) -> list[str]:
        """Start uids of runs whose start document has these key = value pairs."""
        return list(self._matching(metadata).keys())

    def starts(self, **metadata: Any) -> list[dict]:
        """Start documents of the runs whose start document has these key = value pairs,
        oldest first, fetched a page of runs at a time (not one request per run)."""
        return [dict(run.metadata["start"]) for _, run in self._matching(metadata).items()]

    def _matching(self, metadata: dict[str, Any]):
        from tiled.queries import Key

        results = self.client
        for key, value in metadata.items():
            results = results.search(Key(key) == value)
        return results

    def run(self, uid: str):
        """The stored run (a bluesky-tiled-plugins BlueskyRun); a unique uid prefix of at
        least 5 characters also works. UnknownRunError if absent."""
        if not isinstance(uid, str) or not uid:
            raise UnknownRunError(f"run ids are non-empty strings, got {uid!r}")
        try:
            return self.client[uid]
        except KeyError:
            raise UnknownRunError(f"no run {uid!r} in {self}") from None
        except ValueError as err:  # e.g. a uid prefix that is too short
            raise UnknownRunError(f"no run {uid!r} in {self}: {err}") from None

    def resolve(self, run_id: str | int) -> str:
        """The full start uid of a run named by its uid, a unique uid prefix (5 characters
        or more) or its scan id (the newest run with it; digits that are no run's scan id
        may still begin a uid). UnknownRunError if none."""
        text = str(run_id).strip()
        if text.isdigit():
            matches = self.search(scan_id=int(text))
            if matches:
                return matches[-1]
            if len(text) < 5:
                raise UnknownRunError(f"no run with scan id {text} in {self}")
        return self.start(text)["uid"]

    def start(self, uid: str) -> dict:
        """The start document of a run."""
        return dict(self.run(uid).metadata["start"])

    def documents(self, uid: str) -> Iterator[tuple[str, dict]]:
        """The run's documents, stream by stream. A run with no stop document in the catalog
        (cut off) is read from its journal when this machine has it."""
        run = self.run(uid)
        journal = self._journal_path(uid)
        if run.metadata.get("stop") is None and journal is not None and journal.exists():
            yield from read_journal(journal)
            return
        try:
            yield from run.documents()
        except Exception as err:  # damaged data files surface as the server's errors
            journal_note = (
                f"; its journal {journal} has a copy" if journal and journal.exists() else ""
            )
            raise CatalogError(
                f"run {uid} cannot be read from {self}: {type(err).__name__}: {err}{journal_note}"
            ) from err

    def _journal_path(self, uid: str) -> Path | None:
        return None if self.journal_dir is None else self.journal_dir / f"{uid}.jsonl"


def open_catalog(
    location: str | Path, api_key: str | None = None, read_only: bool = False
) -> Catalog:
    """A catalog from a tiled URI (http/https) or a directory (created if absent, unless
    ``read_only``)."""
    if str(location).startswith(("http://", "https://")):
        return Catalog.remote(str(location), api_key=api_key)
    return Catalog.embedded(location, read_only=read_only)


class CatalogWriter:
    """RunEngine callback: journal every document at once, then store it in tiled from a
    worker thread so a slow catalog never holds up the RunEngine.

    A failure to store is raised at the next document (stopping the plan with a clear
    error); the journal keeps everything meanwhile. Call ``flush()`` before reading back.
    """

    def __init__(self, catalog: Catalog, batch_size: int = 500) -> None:
        from bluesky_tiled_plugins import TiledWriter

        self.catalog = catalog
        self._tiled = TiledWriter(catalog.client, batch_size=batch_size)
        self._journals: dict[str, Any] = {}
        self._run_of_descriptor: dict[str, str] = {}
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._store, name="catalog-writer", daemon=True)
        self._worker.start()

    def __call__(self, name: str, doc: dict) -> None:
        if self._error is not None:
            raise CatalogError(
                f"storing documents in {self.catalog} failed: {self._error}"
            ) from self._error
        if self.catalog.journal_dir is not None:
            try:
                self._journal(name, doc)
            except OSError as err:  # disk full, file too large, read-only file system...
                raise CatalogError(
                    f"cannot write the run journal in {self.catalog.journal_dir}: {err}"
                ) from err
        self._queue.put((name, doc))
        if name == "start":  # the run is in the catalog before anything else happens
            self.flush()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every document so far is in the catalog; raise if storing failed."""
        done = threading.Event()
        self._queue.put(("_flush", done))
        if not done.wait(timeout):
            raise CatalogError(f"the catalog did not catch up within {timeout} s")
        if self._error is not None:
            raise CatalogError(
                f"storing documents in {self.catalog} failed: {self._error}"
            ) from self._error

    def stop(self, timeout: float = 120.0) -> None:
        """Store what is queued and end the worker thread."""
        self._queue.put(("_stop", None))
        self._worker.join(timeout)

    def _store(self) -> None:
        while True:
            name, doc = self._queue.get()
            if name == "_stop":
                return
            if name == "_flush":
                doc.set()
            elif self._error is None:
                try:
                    with self.catalog.storing:
                        self._tiled(name, doc)
                except Exception as err:  # reported to the RunEngine thread
                    self._error = err

    def _journal(self, name: str, doc: dict) -> None:
        if name == "start":
            path = self.catalog._journal_path(doc["uid"])
            self._journals[doc["uid"]] = RunJournal(path)
            run = doc["uid"]
        elif name == "descriptor":
            run = self._run_of_descriptor[doc["uid"]] = doc["run_start"]
        elif name in ("event", "event_page"):
            run = self._run_of_descriptor[doc["descriptor"]]
        else:
            run = doc.get("run_start")
        journal = self._journals.get(run)
        if journal is None:
            return
        journal.write(name, doc)
        if name == "stop":
            journal.close()
            del self._journals[run]
