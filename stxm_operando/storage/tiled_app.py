"""tiled's side of an embedded catalog: its SQL adapter (and the set-up of a new database),
the ASGI application that serves it, in this process or as a catalog server, and the
closing of an in-process server.
"""

import asyncio
import copy
import logging
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..config import LOOPBACK_HOSTS
from .catalog_dir import DATABASE, CatalogError

JSON_SEQ = "application/json-seq"
CATALOG_SPEC = {"name": "CatalogOfBlueskyRuns", "version": "3.0"}

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


def catalog_adapter(path: Path, database: Path | str | None = None, read_only: bool = False):
    """The tiled SQL catalog adapter of the catalog whose arrays live in directory ``path``.

    ``database`` is its SQL database: by default ``path/catalog.db`` (created if absent),
    a relocated copy of it, or a ``postgresql://`` URI (initialised if empty).
    ``read_only`` opens an existing SQLite database read-only and its arrays for reading;
    tiled keeps one connection pool per database URI in a process, so such an adapter
    never shares one with a writer's (each pool belongs to one event loop).
    """
    from tiled.catalog import from_uri
    from tiled.utils import ensure_specified_sql_driver

    database = database or path / DATABASE
    storage = [str(path / "data"), f"sqlite:///{path / 'tables.db'}"]
    if str(database).startswith("postgresql://"):
        uri, create = ensure_specified_sql_driver(str(database)), not read_only
    elif read_only:
        uri = ensure_specified_sql_driver(f"sqlite:///file:{database}?mode=ro&uri=true")
        create = False
    else:
        uri = ensure_specified_sql_driver(f"sqlite:///{database}")
        create = not Path(database).exists()
    if create:
        _initialize_database(uri)
    if read_only:
        return from_uri(uri, specs=[CATALOG_SPEC], readable_storage=storage)
    return from_uri(uri, specs=[CATALOG_SPEC], writable_storage=storage)


def build_catalog_app(
    path: Path,
    api_key: str | None = None,
    database: Path | str | None = None,
    read_only: bool = False,
):
    """A tiled ASGI app serving the catalog in ``path``; with ``api_key``, access needs it;
    ``read_only``: an existing catalog, for reading."""
    from tiled.config import Authentication
    from tiled.server.app import build_app

    logging.getLogger("tiled.server.app").setLevel(logging.WARNING)
    authentication = Authentication(single_user_api_key=api_key) if api_key else None
    return build_app(
        catalog_adapter(path, database, read_only),
        authentication=authentication,
        serialization_registry=_serialization_registry(),
    )


def check_server_security(host: str, api_key: str | None) -> None:
    """A catalog server off loopback must require an API key (alphanumeric)."""
    if host not in LOOPBACK_HOSTS and not api_key:
        raise CatalogError(f"serving the catalog on {host} (not loopback) needs an API key")
    if api_key is not None and not api_key.isalnum():
        raise CatalogError("the API key must be letters and digits only")


SERVER_SHUTDOWN_S = 20.0
"""Longest wait for the in-process catalog server to shut down, s."""


def shut_down(context) -> None:
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
