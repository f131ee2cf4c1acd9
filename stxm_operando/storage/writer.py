"""The RunEngine callback that stores documents: journaled at once, stored in tiled from a
worker thread."""

from typing import TYPE_CHECKING, Any

from ..worker import Worker
from .catalog_dir import CatalogError
from .journal import RunJournal

if TYPE_CHECKING:
    from .catalog import Catalog


class CatalogWriter:
    """RunEngine callback: journal every document at once, then store it in tiled from a
    worker thread so a slow catalog never holds up the RunEngine.

    A failure to store is raised at the next document (stopping the plan with a clear
    error); the journal keeps everything meanwhile. Call ``flush()`` before reading back.
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
        self._error: BaseException | None = None
        self._worker = Worker(self._store, name="catalog-writer")

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
        self._worker.put((name, doc))
        if name == "start":  # the run is in the catalog before anything else happens
            self.flush()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every document so far is in the catalog; raise if storing failed."""
        if not self._worker.join(timeout):
            raise CatalogError(f"the catalog did not catch up within {timeout} s")
        if self._error is not None:
            raise CatalogError(
                f"storing documents in {self.catalog} failed: {self._error}"
            ) from self._error

    def stop(self, timeout: float = 120.0) -> None:
        """Store what is queued and end the worker thread."""
        self._worker.close(timeout)

    def _store(self, document: tuple[str, dict]) -> None:
        if self._error is None:  # after a failure the journal alone keeps the documents
            try:
                with self.catalog.storing:
                    self._tiled(*document)
            except Exception as err:  # reported to the RunEngine thread
                self._error = err

    def _journal(self, name: str, doc: dict) -> None:
        if name == "start":
            path = self.catalog.journal_path(doc["uid"])
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
