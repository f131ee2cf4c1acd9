"""Per-run journals: every document of a run, appended as it arrives, readable after a crash.

A journal is two files: ``UID.jsonl``, one JSON line per document, and ``UID.arrays``, the raw
bytes of the document's larger numpy arrays (images, position maps) in the order they came.
A line names each such array by ``{"__array__": [offset, dtype, shape]}``: images are written
as binary, not as nested JSON lists (several times larger and slower to write and parse).
The array bytes are written before the line that refers to them, so a crash can tear only
the last line, which reading skips.
"""

import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

INLINE_ELEMENTS = 64
"""Arrays of at most this many elements stay in the JSON line."""
ARRAY_KEY = "__array__"


def to_json(value: Any) -> Any:
    """JSON fallback for the numpy values in documents (arrays become nested lists)."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__} in a document")


def arrays_path(path: Path) -> Path:
    """The binary companion of journal ``path``."""
    return path.with_suffix(".arrays")


class RunJournal:
    """The journal of one run, open for appending (``path`` is its ``.jsonl`` file)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lines = open(path, "a")
        self._arrays: BinaryIO = open(arrays_path(path), "ab")

    def write(self, name: str, doc: dict) -> None:
        """Append one document (arrays first, then its line), flushed to the OS."""
        if name == "event_page":  # a page's per-event arrays (a raster's lines) as one array
            doc = doc | {"data": {key: _one_array(column) for key, column in doc["data"].items()}}
        line = json.dumps({"name": name, "doc": doc}, default=self._encode)
        self._arrays.flush()
        self._lines.write(line + "\n")
        self._lines.flush()

    def close(self) -> None:
        """Sync both files to disk and close them."""
        for handle in (self._arrays, self._lines):
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()

    def _encode(self, value: Any) -> Any:
        if isinstance(value, _Rows):  # written row after row: one array on disk, no stacking
            first = value.rows[0]
            return self._written(value.rows, first.dtype, [len(value.rows), *first.shape])
        if (
            isinstance(value, np.ndarray)
            and value.size > INLINE_ELEMENTS
            and value.dtype.kind in "biufc"
        ):
            return self._written([value], value.dtype, value.shape)
        return to_json(value)

    def _written(self, rows: list[np.ndarray], dtype: np.dtype, shape) -> dict:
        """Write ``rows`` one after another to the arrays file; their reference in the line,
        as one array of ``dtype`` and ``shape``."""
        offset = self._arrays.tell()
        for row in rows:
            self._arrays.write(np.ascontiguousarray(row))  # no copy of one that already is
        return {ARRAY_KEY: [offset, dtype.str, list(shape)]}


@dataclass(frozen=True)
class _Rows:
    """An event page's column of numpy arrays of one shape and numeric dtype (a raster's
    lines), to be written one after another as the rows of one array."""

    rows: list[np.ndarray]


def _one_array(column: list) -> Any:
    """An event page's column of equal-length numeric arrays (lists or numpy) as one array to
    be written as binary (numpy rows as they are, lists stacked); any other column as it is."""
    if not column or not isinstance(column[0], list | np.ndarray):
        return column
    first = column[0]
    if (
        isinstance(first, np.ndarray)
        and first.dtype.kind in "biuf"
        and len(column) * first.size > INLINE_ELEMENTS
        and all(
            isinstance(row, np.ndarray) and row.dtype == first.dtype and row.shape == first.shape
            for row in column
        )
    ):
        return _Rows(column)
    try:
        stacked = np.asarray(column)
    except ValueError:  # arrays of different lengths
        return column
    return stacked if stacked.dtype.kind in "biuf" else column


def read_journal(path: Path) -> Iterator[tuple[str, dict]]:
    """Documents of a journal file (arrays back as numpy arrays). A line that cannot be read
    (a crash mid-write tears the last one; a damaged disk any) or whose arrays are missing is
    skipped with a warning naming it, and reading goes on."""
    arrays = arrays_path(path)
    stored = np.memmap(arrays, dtype=np.uint8, mode="r") if _has_bytes(arrays) else None

    def decode(record: dict) -> Any:
        if ARRAY_KEY not in record:
            return record
        offset, dtype, shape = record[ARRAY_KEY]
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if stored is None or offset + size > stored.size:
            raise ValueError(f"its array at byte {offset} is not in {arrays.name}")
        return np.frombuffer(stored[offset : offset + size], dtype=dtype).reshape(shape).copy()

    with open(path, errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line, object_hook=decode)
                name, doc = record["name"], record["doc"]
            except (ValueError, KeyError, TypeError) as err:
                warnings.warn(
                    f"{path}: line {number} skipped, it is not a document ({err})",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            yield name, doc


def _has_bytes(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0
