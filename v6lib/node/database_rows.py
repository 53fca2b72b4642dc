"""How many rows the node's file databases hold: what the row-level rule compares with.

Why the node counts itself: the algorithm could report any number. The counts are
cached per file (size and modification time), so a run pays for a count only after the
data changed. CSV rows are counted as lines after the header (a quoted value that spans
lines counts as more rows: the rule is then stricter, never looser); Parquet's count is
read from its footer. SQL, SPARQL and Excel databases are not counted: for them the
row-level rule looks at column names only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

from v6lib.node.runtime.base import JobDatabase
from v6lib.rules.disclosure import ROW_COUNTED_TYPES

__all__ = ["DatabaseRows"]

_CHUNK = 1024 * 1024


class DatabaseRows:
    """Row counts of file databases, cached until a file changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[int, int], int]] = {}
        self._lock = threading.Lock()

    def counts(self, databases: Iterable[JobDatabase]) -> tuple[int, ...]:
        """The row counts of the databases that can be counted."""
        found = (self.count(database) for database in databases)
        return tuple(n for n in found if n is not None)

    def count(self, database: JobDatabase) -> int | None:
        """The rows of one database, or None when it is not a countable file."""
        if not database.is_file or database.type not in ROW_COUNTED_TYPES:
            return None
        try:
            stat = os.stat(database.uri)
        except OSError:
            return None
        stamp = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(database.uri)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            rows = _parquet_rows(database.uri) if database.type == "parquet" \
                else _csv_rows(Path(database.uri))
        except (OSError, ValueError):
            return None
        with self._lock:
            self._cache[database.uri] = (stamp, rows)
        return rows


def _csv_rows(path: Path) -> int:
    lines, last = 0, b"\n"
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1  # a last line without its newline
    return max(0, lines - 1)  # the header


def _parquet_rows(uri: str) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(uri).num_rows)
