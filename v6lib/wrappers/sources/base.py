"""The ``DataSource`` seam and the registry that maps a database type to its reader.

Built-in readers (csv, parquet, sql, sparql, excel) are imported on first use, so an
algorithm image needs only the drivers of the database types it actually reads.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from v6lib.errors import DataError

from ..contract import DatabaseSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DataSource",
    "get_source",
    "known_types",
    "load_data",
    "local_path",
    "register_source",
    "select_columns",
]


@runtime_checkable
class DataSource(Protocol):
    """Reads one kind of database into a DataFrame."""

    def load(self, spec: DatabaseSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The database as a DataFrame, with only ``columns`` when given.

        Raises:
            DataError: the database is missing, unreadable, or lacks a requested column.
        """
        ...


_BUILTIN: dict[str, str] = {
    "csv": "v6lib.wrappers.sources.csv",
    "parquet": "v6lib.wrappers.sources.parquet",
    "sql": "v6lib.wrappers.sources.sql",
    "sparql": "v6lib.wrappers.sources.sparql",
    "excel": "v6lib.wrappers.sources.excel",
}
_ALIASES: dict[str, str] = {"xlsx": "excel", "sqlite": "sql", "omop": "sql"}

_registered: dict[str, DataSource] = {}
_lock = threading.Lock()


def register_source(type_name: str, source: DataSource, *, replace: bool = False) -> None:
    """Make ``source`` the reader of databases of ``type_name``.

    Raises:
        ValueError: another reader is registered for the type and ``replace`` is false.
    """
    key = type_name.strip().lower()
    with _lock:
        if key in _registered and not replace and _registered[key] is not source:
            raise ValueError(
                f"a data source for type {key!r} is already registered "
                f"({type(_registered[key]).__name__}); pass replace=True to override it"
            )
        _registered[key] = source


def known_types() -> list[str]:
    """Every database type a reader exists for (built-in or registered)."""
    return sorted({*_BUILTIN, *_ALIASES, *_registered})


def get_source(type_name: str) -> DataSource:
    """The reader for ``type_name`` (importing a built-in one on first use).

    Raises:
        DataError: no reader exists for the type.
    """
    key = type_name.strip().lower()
    key = _ALIASES.get(key, key)
    with _lock:
        source = _registered.get(key)
    if source is not None:
        return source
    module_name = _BUILTIN.get(key)
    if module_name is None:
        raise DataError(
            f"unknown database type {type_name!r}; known types: {', '.join(known_types())}"
        )
    source = importlib.import_module(module_name).SOURCE
    with _lock:
        return _registered.setdefault(key, source)


def load_data(spec: DatabaseSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read the database ``spec`` describes with the reader of its type."""
    return get_source(spec.type).load(spec, columns=columns)


def local_path(spec: DatabaseSpec) -> Path:
    """The file ``spec.uri`` names (``file://`` accepted).

    Raises:
        DataError: the file does not exist.
    """
    uri = spec.uri
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    path = Path(uri)
    if not path.is_file():
        raise DataError(
            f"database {spec.label!r} ({spec.type}) points to {path}, which does not exist "
            "or is not a file; check the database uri in the node configuration"
        )
    return path


def select_columns(frame: pd.DataFrame, columns: Sequence[str] | None,
                   spec: DatabaseSpec) -> pd.DataFrame:
    """``frame`` restricted to ``columns`` in that order.

    Raises:
        DataError: a requested column is not in the data (names it and the available ones).
    """
    if columns is None:
        return frame
    check_columns(list(frame.columns), columns, spec)
    return frame.loc[:, list(columns)]


def check_columns(available: Sequence[object], columns: Sequence[str],
                  spec: DatabaseSpec) -> None:
    """Raise DataError naming every requested column missing from ``available``."""
    present = {str(c) for c in available}
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(
            f"database {spec.label!r} has no column(s) {', '.join(map(repr, missing))}; "
            f"available: {', '.join(map(str, available)) or 'none'}"
        )
