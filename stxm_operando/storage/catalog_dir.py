"""The files of an embedded catalog directory: write probes, relocation, read-only opening.

A tiled SQL catalog records the absolute URI of every asset (zarr arrays under ``data/``,
tables in ``tables.db``). A directory that was moved or copied, e.g. to an analysis
machine, still points at the old place; ``relocate`` points it at where it is now.
"""

import fcntl
import os
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

DATABASE = "catalog.db"
WRITE_LOCK = ".write.lock"
"""The file whose exclusive lock a writer of the catalog in the folder holds while it
writes (created beside the database)."""


class CatalogError(RuntimeError):
    """The catalog cannot be opened or written."""


class WriteTurn:
    """Writers of one catalog taking turns, in this process and across processes: a thread
    lock, then an exclusive ``flock`` of the folder's ``WRITE_LOCK`` file (SQLite lets one
    writer in at a time and makes the others fail with "database is locked" after a few
    seconds; waiting for the lock instead never fails an acquisition). ``folder`` None: a
    thread lock only (a catalog server orders its own writers)."""

    def __init__(self, folder: Path | None) -> None:
        self.path = None if folder is None else Path(folder) / WRITE_LOCK
        self._thread_lock = threading.Lock()
        self._descriptor: int | None = None

    def __enter__(self) -> "WriteTurn":
        self._thread_lock.acquire()
        if self.path is not None:
            try:
                self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._descriptor, fcntl.LOCK_EX)
            except BaseException:
                self._release()
                raise
        return self

    def __exit__(self, *exc) -> None:
        self._release()

    def _release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the flock
            self._descriptor = None
        self._thread_lock.release()


def check_writable(path: Path) -> None:
    """Create ``path`` if needed and prove it writable with a probe of a unique name (two
    sessions opening one catalog never race on it)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as err:
        raise CatalogError(f"catalog directory {path} is not writable: {err}") from err


def _asset_root(uri: str) -> str | None:
    """The catalog directory an asset URI lives in (before ``/data/`` or ``/tables.db``)."""
    for marker in ("/data/", "/tables.db"):
        if marker in uri:
            return uri.split(marker, 1)[0].split("localhost", 1)[-1].lstrip("/")
    return None


def stored_roots(database: Path) -> set[str]:
    """The catalog directories (without their leading '/') the assets are recorded under."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        uris = [uri for (uri,) in db.execute("SELECT data_uri FROM assets")]
    return {root for root in map(_asset_root, uris) if root}


def relocate(database: Path, root: Path) -> bool:
    """Point every asset of ``database`` at catalog directory ``root``; True if any moved.

    Examples
    --------
    >>> _asset_root("file://localhost/old/place/data/uid/particle_0/raster_image")
    'old/place'
    >>> _asset_root("sqlite://localhost//old/place/tables.db")
    'old/place'
    """
    here = str(root).lstrip("/")
    moved = stored_roots(database) - {here}
    if moved:
        with sqlite3.connect(database) as db:
            for old in moved:
                db.execute(
                    "UPDATE assets SET data_uri = replace(data_uri, ?, ?)", (f"/{old}", f"/{here}")
                )
    return bool(moved)


def database_for_writing(root: Path) -> Path:
    """The SQLite database of the catalog in ``root``, for writing: the folder is created
    if needed and proven writable, and a catalog copied from elsewhere is relocated in
    place. CatalogError if the folder or its database cannot be used."""
    check_writable(root)
    database = root / DATABASE
    if database.exists():
        try:
            relocate(database, root)
        except sqlite3.DatabaseError as err:
            raise CatalogError(f"{database} is not a usable catalog: {err}") from err
    return database


def database_for_reading(root: Path) -> tuple[Path, Path | None]:
    """The database to read the catalog in ``root`` from, and a temporary folder to remove
    afterwards (or None).

    Nothing is written into ``root``: a catalog recorded under another directory is read
    through a relocated copy of its database in a temporary folder. CatalogError if
    ``root`` holds no catalog.
    """
    database = root / DATABASE
    if not database.is_file():
        raise CatalogError(f"no catalog in {root} (no {DATABASE})")
    try:
        needs_copy = stored_roots(database) - {str(root).lstrip("/")}
    except sqlite3.DatabaseError as err:
        raise CatalogError(f"{database} is not a readable catalog: {err}") from err
    if not needs_copy:
        return database, None
    scratch = Path(tempfile.mkdtemp(prefix="stxm-operando-catalog-"))
    copy = scratch / DATABASE
    shutil.copyfile(database, copy)
    relocate(copy, root)
    return copy, scratch
