"""The RunEngine callback that stores documents: journaled at once, stored in tiled from a
worker thread."""

import logging
from typing import TYPE_CHECKING, Any

from ..worker import Worker
from .catalog_dir import CatalogError
from .journal import RunJournal

if TYPE_CHECKING:
    from .catalog import Catalog

log = logging.getLogger(__name__)


class CatalogWriter:
    """RunEngine callback: journal every document at once, then store it in tiled from a
    worker thread so a slow catalog never holds up the RunEngine.

    A run whose document the catalog cannot take goes on: its journal keeps every document
    (``Catalog.documents`` reads a run the catalog holds no stop of from its journal), the
    failure is logged once and listed in ``unstored``, and the catalog gets nothing more of
    that run. A run whose start the catalog refuses does not begin, and a failure to write
    the journal stops the run with a clear error: then nothing would keep its documents.
    Call ``flush()`` before reading back.
    """

    def __init__(self, catalog: "Catalog", batch_size: int = 500) -> None:
        from bluesky_tiled_plugins import TiledWriter

        self.catalog = catalog
        # every array as an array (max_array_size=0): bluesky-tiled-plugins would put arrays
        # of up to 16 elements (a raster line of <= 16 pixels) in the SQL table as list
        # columns, which tiled's SQLite adapter refuses ("Unsupported PyArrow type")
        self._tiled = TiledWriter(catalog.client, batch_size=batch_size, max_array_size=0)
        self._journals: dict[str, Any] = {}
        self._run_of_descriptor: dict[str, str] = {}
        self.unstored: dict[str, str] = {}
        """Runs the catalog could not take, by uid: why (their journals hold them whole)."""
        self._error: BaseException | None = None
        self._worker = Worker(self._store, name="catalog-writer")

    def __call__(self, name: str, doc: dict) -> None:
        if self._error is not None:
            raise CatalogError(
                f"storing documents in {self.catalog} failed: {self._error}"
            ) from self._error
        run = self._run_of(name, doc)
        if self.catalog.journal_dir is not None:
            try:
                self._journal(run, name, doc)
            except OSError as err:  # disk full, file too large, read-only file system...
                raise CatalogError(
                    f"cannot write the run journal in {self.catalog.journal_dir}: {err}"
                ) from err
        self._worker.put((run, name, doc))
        if name == "start":  # the run is in the catalog before anything else happens
            self.flush()
            if run in self.unstored:
                raise CatalogError(f"{self.catalog} cannot take run {run}: {self.unstored[run]}")

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every document so far is in the catalog (or in the journal alone, for
        the runs in ``unstored``); raise if a document is kept nowhere."""
        if not self._worker.join(timeout):
            raise CatalogError(f"the catalog did not catch up within {timeout} s")
        if self._error is not None:
            raise CatalogError(
                f"storing documents in {self.catalog} failed: {self._error}"
            ) from self._error

    def stop(self, timeout: float = 120.0) -> None:
        """Store what is queued and end the worker thread."""
        self._worker.close(timeout)

    def _store(self, item: tuple[str | None, str, dict]) -> None:
        run, name, doc = item
        if self._error is not None or run in self.unstored:
            return
        try:
            with self.catalog.storing:
                self._tiled(name, doc)
        except Exception as err:
            journal = None if run is None else self.catalog.journal_path(run)
            if journal is None:  # nothing else keeps it: reported to the RunEngine thread
                self._error = err
                return
            self.unstored[run] = f"{type(err).__name__}: {str(err).splitlines()[0]}"
            log.warning(
                "%s could not take a %s document of run %s (%s); the run goes on and its "
                "journal %s keeps every document",
                self.catalog,
                name,
                run,
                self.unstored[run],
                journal,
            )

    def _run_of(self, name: str, doc: dict) -> str | None:
        if name == "start":
            return doc["uid"]
        if name == "descriptor":
            run = self._run_of_descriptor[doc["uid"]] = doc["run_start"]
            return run
        if name in ("event", "event_page"):
            return self._run_of_descriptor.get(doc["descriptor"])
        return doc.get("run_start")

    def _journal(self, run: str | None, name: str, doc: dict) -> None:
        if name == "start":
            self._journals[run] = RunJournal(self.catalog.journal_path(run))
        journal = self._journals.get(run)
        if journal is None:
            return
        journal.write(name, doc)
        if name == "stop":
            journal.close()
            del self._journals[run]
