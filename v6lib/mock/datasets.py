"""The data of each mock organization: normalizing what the user passes, and loading it once.

``MockNetwork(module, datasets)`` takes one entry per organization. An entry is one
database or several:

* a ``pandas.DataFrame`` (held in memory),
* a path (``str`` or ``os.PathLike``) to a ``.csv``, ``.parquet``/``.pq`` or ``.xlsx`` file,
* a dict like a node's database configuration: ``{"uri", "type", "query"?, "label"?}``
  (any type ``v6lib.wrappers.sources`` reads: csv, parquet, sql, sparql, excel),
* a list of the above (labels ``"default"``, ``"db1"``, ``"db2"``, ... unless a dict
  carries its own ``"label"``), or a dict ``{label: database}``.

Frames are loaded through the real ``v6lib.wrappers.sources`` the first time a run asks,
then cached per organization, database and column selection: later runs get the *same*
object. Algorithms must therefore treat their input frames as read-only (or copy them,
``df.copy()``), exactly as they should in production where the input is never written back.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from v6lib.errors import ConfigurationError, DataError
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.sources.base import select_columns

__all__ = ["DEFAULT_LABEL", "MEMORY_TYPE", "OrganizationData", "normalize_datasets"]

DEFAULT_LABEL = "default"
#: ``DatabaseSpec.type`` of a frame handed to the mock in memory (no source reads it).
MEMORY_TYPE = "dataframe"

_SUFFIX_TYPES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xls": "excel",
}


def _infer_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    try:
        return _SUFFIX_TYPES[suffix]
    except KeyError:
        raise ConfigurationError(
            f"cannot tell the database type of {path!r} from its suffix; pass a dict "
            f"{{'uri': {path!r}, 'type': 'csv' | 'parquet' | 'sql' | 'sparql' | 'excel'}}"
        ) from None


_Key = tuple[str, str | None, tuple[str, ...] | None]


@dataclass(frozen=True)
class _Database:
    spec: DatabaseSpec
    frame: pd.DataFrame | None = None


def _database(entry: Any, label: str, org_id: int) -> _Database:
    """One database entry as a spec (plus the frame for in-memory data)."""
    if isinstance(entry, pd.DataFrame):
        return _Database(
            DatabaseSpec(label, f"memory://organization/{org_id}/{label}", MEMORY_TYPE), entry
        )
    if isinstance(entry, str | os.PathLike):
        path = os.fspath(entry)
        return _Database(DatabaseSpec(label, path, _infer_type(path)))
    if isinstance(entry, Mapping):
        unknown = set(entry) - {"uri", "type", "query", "label"}
        if "uri" not in entry or unknown:
            raise ConfigurationError(
                f"database {label!r} of organization {org_id} must be a dict with 'uri', "
                f"'type' and optionally 'query' and 'label'; got keys {sorted(entry)}"
            )
        uri = os.fspath(entry["uri"])
        kind = str(entry.get("type") or _infer_type(uri)).strip().lower()
        return _Database(
            DatabaseSpec(str(entry.get("label", label)), uri, kind, entry.get("query"))
        )
    raise ConfigurationError(
        f"organization {org_id}: a database must be a DataFrame, a path or a dict with "
        f"'uri' and 'type', got {type(entry).__name__}"
    )


def _databases(entry: Any, org_id: int) -> list[_Database]:
    if isinstance(entry, Mapping) and "uri" not in entry:
        found = [_database(value, str(label), org_id) for label, value in entry.items()]
    elif isinstance(entry, list | tuple):
        found = [
            _database(value, DEFAULT_LABEL if i == 0 else f"db{i}", org_id)
            for i, value in enumerate(entry)
        ]
    else:
        found = [_database(entry, DEFAULT_LABEL, org_id)]
    labels = [db.spec.label for db in found]
    if not found:
        raise ConfigurationError(f"organization {org_id} has no database")
    if len(set(labels)) != len(labels):
        raise ConfigurationError(f"organization {org_id} has duplicate database labels {labels}")
    return found


class OrganizationData:
    """The databases of one organization, and a cache of what its runs loaded.

    ``load`` is the ``data_loader`` of every run at this organization: it can only reach
    this organization's databases, and loads each (database, columns) once.
    """

    def __init__(
        self, organization_id: int, databases: Sequence[_Database], *, cache: bool = True
    ) -> None:
        self.organization_id = organization_id
        self.cache = cache
        self._databases = {db.spec.label: db for db in databases}
        self._cache: dict[_Key, pd.DataFrame] = {}
        self._locks: dict[_Key, threading.Lock] = {}
        self._guard = threading.Lock()
        if any(db.spec.type == "sql" for db in databases):
            # NOTE: imported now, outside any run, for @database_connection, which opens
            # connections inside the run: a first import there would compile the module
            # under the sandbox's audit hook, which Python 3.11's ast.parse (pytest's
            # assertion rewriting of v6lib) fails on.
            importlib.import_module("v6lib.wrappers.sources.sql")

    @property
    def labels(self) -> list[str]:
        """Database labels in the order they were given."""
        return list(self._databases)

    def spec(self, label: str) -> DatabaseSpec | None:
        database = self._databases.get(label)
        return None if database is None else database.spec

    def load(self, spec: DatabaseSpec, columns: Sequence[str] | None) -> pd.DataFrame:
        """The frame of ``spec`` (one of this organization's), read once and then cached
        (read on every call when the cache is off).

        ``spec.query`` may differ from the configured one (a task can pass its own query).
        """
        database = self._databases.get(spec.label)
        if database is None or (database.spec.uri, database.spec.type) != (spec.uri, spec.type):
            raise DataError(
                f"database {spec.label!r} is not configured at organization {self.organization_id}"
            )
        if not self.cache:
            return self._read(database, spec, columns)
        key = (spec.label, spec.query, tuple(columns) if columns is not None else None)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._cache.get(key)
            if cached is None:
                cached = self._read(database, spec, columns)
                self._cache[key] = cached
        return cached

    def _read(
        self, database: _Database, spec: DatabaseSpec, columns: Sequence[str] | None
    ) -> pd.DataFrame:
        if database.frame is not None:
            frame = database.frame
            return frame if columns is None else select_columns(frame, columns, spec)
        full = self._cache.get((spec.label, spec.query, None))
        if full is not None and columns is not None:
            return select_columns(full, columns, spec)
        from v6lib.wrappers.sources import load_data

        # NOTE: sources that are not thread-safe (rdflib's SPARQL) lock themselves.
        return load_data(spec, columns=columns)


def normalize_datasets(
    datasets: Sequence[Any], organization_ids: Sequence[int] | None, *, cache: bool = True
) -> dict[int, OrganizationData]:
    """Pair each dataset entry with its organization id (1..n unless given).

    Raises:
        ConfigurationError: the entries cannot be read as databases, or the ids do not
            match the entries one to one.
    """
    if isinstance(datasets, pd.DataFrame | str | os.PathLike | Mapping):
        raise ConfigurationError(
            "datasets must be a list with one entry per organization, e.g. "
            "[df_org1, 'org2.csv']; wrap a single organization's data in a list"
        )
    entries = list(datasets)
    if not entries:
        raise ConfigurationError("a MockNetwork needs at least one organization's dataset")
    ids = list(range(1, len(entries) + 1)) if organization_ids is None else list(organization_ids)
    if len(ids) != len(entries) or len(set(ids)) != len(ids):
        raise ConfigurationError(
            f"organization_ids must be {len(entries)} distinct ids (one per dataset), got {ids}"
        )
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ConfigurationError(f"organization ids must be integers, got {ids}")
    return {
        org: OrganizationData(org, _databases(entry, org), cache=cache)
        for org, entry in zip(ids, entries, strict=True)
    }
