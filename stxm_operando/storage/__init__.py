"""Run storage: a databroker/tiled catalog, embedded in a directory or on a tiled server,
with a per-run journal on this machine.

``catalog`` (the catalog and how it opens), ``reading`` (runs read through tiled's adapter
in-process, or a tiled client), ``writer`` (the RunEngine callback that stores documents),
``journal`` (the crash record), ``catalog_dir`` (an embedded catalog's files) and
``tiled_app`` (tiled's adapter and application, in-process or served).
"""

from .catalog import Catalog, UnknownRunError, is_server_uri, journal_root, open_catalog
from .catalog_dir import CatalogError
from .tiled_app import build_catalog_app, check_server_security
from .writer import CatalogWriter

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogWriter",
    "UnknownRunError",
    "build_catalog_app",
    "check_server_security",
    "is_server_uri",
    "journal_root",
    "open_catalog",
]
