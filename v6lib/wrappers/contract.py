"""The container contract: every environment variable and file the node hands an algorithm.

Parsed once, at the edge (``runner.main``); everything below receives typed values. The
names follow vantage6's so its algorithm documentation applies unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from v6lib.errors import ConfigurationError, DataError

__all__ = ["ContainerEnv", "DatabaseSpec", "database_env", "database_env_names"]


@dataclass(frozen=True)
class DatabaseSpec:
    """One database the run may read: its label, where it is, what kind, and a query.

    ``query`` is the SQL or SPARQL text for query-based sources, or the sheet name for an
    Excel file; file sources (csv, parquet) ignore it.
    """

    label: str
    uri: str
    type: str
    query: str | None = None


_REQUIRED = ("input_file", "output_file", "token_file")
_PATHS = frozenset({*_REQUIRED, "temporary_folder"})


def database_env_names(label: str) -> tuple[str, str, str]:
    """The names of the URI, TYPE and QUERY variables for ``label`` (label upper-cased)."""
    key = label.upper()
    return f"{key}_DATABASE_URI", f"{key}_DATABASE_TYPE", f"{key}_QUERY"


def database_env(spec: DatabaseSpec) -> dict[str, str]:
    """The environment variables that describe ``spec`` to a container (the inverse of
    :meth:`ContainerEnv.databases`); the node and the tests build containers with it."""
    uri_name, type_name, query_name = database_env_names(spec.label)
    env = {uri_name: spec.uri, type_name: spec.type}
    if spec.query is not None:
        env[query_name] = spec.query
    return env


@dataclass(frozen=True)
class ContainerEnv:
    """The environment of an algorithm container (no prefix: the names are the contract).

    ``HOST`` may carry a scheme (``http://172.18.0.1``); without one ``http://`` is used.
    ``HOST``/``PORT`` are only needed by central functions that create subtasks.

    NOTE: a plain dataclass read by :meth:`from_environ`, not a pydantic model: importing
    pydantic costs several times the rest of the entrypoint, paid by every algorithm run.
    """

    input_file: Path
    output_file: Path
    token_file: Path
    temporary_folder: Path | None = None
    host: str | None = None
    port: int | None = None
    api_path: str = "/api"
    user_requested_database_labels: list[str] = field(default_factory=list)
    pkg_name: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ContainerEnv:
        """Read the contract's variables (names matched case-insensitively; an empty
        value counts as unset; other variables are ignored).

        Raises:
            ConfigurationError: a required variable is missing or one is mistyped (every
                problem is named).
        """
        env = os.environ if environ is None else environ
        wanted = {f.name for f in fields(cls)}
        values = {key.lower(): value for key, value in env.items()
                  if key.lower() in wanted and value != ""}
        problems = [f"{name.upper()}: is required" for name in _REQUIRED if name not in values]
        parsed: dict[str, Any] = {}
        for name, value in values.items():
            if name in _PATHS:
                parsed[name] = Path(value)
            elif name == "port":
                try:
                    parsed[name] = int(value)
                except ValueError:
                    problems.append(f"PORT: must be a whole number, got {value!r}")
            elif name == "user_requested_database_labels":
                parsed[name] = [part.strip() for part in value.split(",") if part.strip()]
            else:
                parsed[name] = value
        if problems:
            raise ConfigurationError(
                f"the container environment is incomplete or invalid ({'; '.join(problems)});"
                " the node sets these variables when it starts an algorithm"
            )
        return cls(**parsed)

    def server_url(self) -> str | None:
        """``http://HOST:PORT/API_PATH`` of the node proxy, or None when HOST is unset."""
        if not self.host:
            return None
        host = self.host.rstrip("/")
        if "://" not in host:
            host = f"http://{host}"
        port = f":{self.port}" if self.port else ""
        path = "/" + self.api_path.strip("/") if self.api_path.strip("/") else ""
        return f"{host}{port}{path}"

    def databases(self, environ: Mapping[str, str] | None = None) -> list[DatabaseSpec]:
        """The requested databases, in the order of ``USER_REQUESTED_DATABASE_LABELS``.

        Raises:
            DataError: a requested label lacks its URI or TYPE variable.
        """
        env = os.environ if environ is None else environ
        specs = []
        for label in self.user_requested_database_labels:
            uri_name, type_name, query_name = database_env_names(label)
            for name in (uri_name, type_name):
                if not env.get(name):
                    raise DataError(
                        f"database {label!r} was requested but the environment variable "
                        f"{name} is not set; the node configuration must define the "
                        f"{label!r} database with a uri and a type"
                    )
            query = env.get(query_name) or None
            specs.append(DatabaseSpec(label=label, uri=env[uri_name],
                                      type=env[type_name].strip().lower(), query=query))
        return specs
