"""The container contract: every environment variable and file the node hands an algorithm.

Both sides live here, so they cannot drift: :func:`contract_environment` *writes* the
variables (the node's Docker and process runtimes, and the MockNetwork for its in-process
runs), :meth:`ContainerEnv.from_environ` and :meth:`ContainerEnv.databases` *read* them
(the wrapper, once, at the edge in ``runner.main``; everything below receives typed
values). :func:`run_paths` is where a node keeps a run's files on its own disk, the layout
the mock copies. The names follow vantage6's so its algorithm documentation applies
unchanged.

NOTE: imported by every algorithm run, so it stays standard library only (no pydantic,
no node or server code).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from v6lib.errors import ConfigurationError, DataError

__all__ = [
    "CONTRACT_VARIABLES",
    "HOST_SETTINGS_PREFIX",
    "RELAYED_VARIABLE",
    "ContainerEnv",
    "DatabaseSpec",
    "RunPaths",
    "contract_environment",
    "database_env",
    "database_env_names",
    "get_env_var",
    "reserved_names",
    "run_paths",
]

StrPath = str | os.PathLike[str]


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


class DatabaseLike(Protocol):
    """What the writer needs of a database: the node's ``JobDatabase`` and the wrapper's
    :class:`DatabaseSpec` both fit."""

    @property
    def label(self) -> str: ...

    @property
    def uri(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def query(self) -> str | None: ...


_REQUIRED = ("input_file", "output_file", "token_file")
_PATHS = frozenset({*_REQUIRED, "temporary_folder", "proxy_socket"})


def database_env_names(label: str) -> tuple[str, str, str]:
    """The names of the URI, TYPE and QUERY variables for ``label`` (label upper-cased)."""
    key = label.upper()
    return f"{key}_DATABASE_URI", f"{key}_DATABASE_TYPE", f"{key}_QUERY"


def database_env(spec: DatabaseLike) -> dict[str, str]:
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
    ``PROXY_SOCKET`` names the node proxy's Unix socket in a container without a network
    (the wrapper, or the node's launcher for images without it, relays ``HOST:PORT`` on
    the container's loopback interface to it).

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
    proxy_socket: Path | None = None
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


#: The contract's own variable names (upper case); a node's extra environment cannot set them.
CONTRACT_VARIABLES: tuple[str, ...] = tuple(f.name.upper() for f in fields(ContainerEnv))

#: Set (to ``1``) by the Docker runtime's launcher (:mod:`v6lib.wrappers.launcher`) once
#: it relays ``HOST:PORT`` to ``PROXY_SOCKET``: the wrapper then starts no relay itself.
RELAYED_VARIABLE = "V6_PROXY_RELAYED"

#: Variables of the host that runtimes sharing it (the process runtime, the MockNetwork)
#: do not pass on to algorithms: the node's own settings, secrets among them.
HOST_SETTINGS_PREFIX = "V6_"


_TRUE = frozenset({"true", "1", "yes", "t"})
_FALSE = frozenset({"false", "0", "no", "f"})


def get_env_var(var_name: str, default: str | None = None,
                as_type: str = "str") -> str | int | bool | None:
    """A variable of the run's environment (a node's ``algorithm_env`` setting, say), read
    the way vantage6 algorithms read theirs, converted to ``as_type`` (``"str"``, ``"int"``
    or ``"bool"``: true/1/yes/t or false/0/no/f).

    Values are the node's plain text: v6lib's node does not encode them, so nothing is
    decoded. Within a MockNetwork run this is the run's own environment.

    Raises:
        ConfigurationError: the value cannot be converted, or ``as_type`` is unknown.
    """
    value = os.environ.get(var_name, default)
    if as_type == "str" or value is None:
        return value
    if as_type == "int":
        try:
            return int(value)
        except ValueError:
            raise ConfigurationError(
                f"environment variable {var_name} is {value!r}, not a whole number") from None
    if as_type == "bool":
        if value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ConfigurationError(
            f"environment variable {var_name} is {value!r}; use true or false")
    raise ConfigurationError(f"get_env_var: as_type must be 'str', 'int' or 'bool', "
                             f"got {as_type!r}")


def reserved_names(labels: Sequence[str]) -> frozenset[str]:
    """The (upper-case) names that only the contract sets for a run with these database
    labels: every contract variable and each label's URI, TYPE and QUERY."""
    names = set(CONTRACT_VARIABLES)
    for label in labels:
        names.update(database_env_names(label))
    return frozenset(names)


def contract_environment(
    *,
    input_file: StrPath,
    output_file: StrPath,
    token_file: StrPath,
    temporary_folder: StrPath | None = None,
    host: str | None = None,
    port: int | None = None,
    api_path: str = "/api",
    proxy_socket: StrPath | None = None,
    databases: Sequence[DatabaseLike] = (),
    pkg_name: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment variables of the container contract: what :meth:`ContainerEnv.
    from_environ` and :meth:`ContainerEnv.databases` read back as the same typed values.

    Args:
        input_file, output_file, token_file, temporary_folder, proxy_socket: paths *as the
            algorithm sees them* (inside the container for Docker, host paths for a
            process or the mock).
        host, port, api_path: where the algorithm reaches the node's proxy.
        databases: the run's databases in the requested order, with their URIs as the
            algorithm sees them.
        pkg_name: the algorithm package, for runtimes without an image that sets it.
        extra: further variables (the node's ``algorithm_env``). A name of the contract
            (compared case-insensitively, as the wrapper reads them), including the
            ``<LABEL>_DATABASE_URI``/``_TYPE``/``_QUERY`` of the run's labels, is dropped:
            extras cannot override the contract.

    Raises:
        ConfigurationError: a label is empty, holds a comma (the label list is comma
            separated) or is given twice.
    """
    labels = [db.label for db in databases]
    bad = [label for label in labels if not label or "," in label]
    if bad or len({label.upper() for label in labels}) != len(labels):
        raise ConfigurationError(
            f"database labels must be distinct, non-empty and without commas, got {labels}"
        )
    written = {
        "INPUT_FILE": os.fspath(input_file),
        "OUTPUT_FILE": os.fspath(output_file),
        "TOKEN_FILE": os.fspath(token_file),
        "API_PATH": api_path,
        "USER_REQUESTED_DATABASE_LABELS": ",".join(labels),
    }
    optional = {"TEMPORARY_FOLDER": temporary_folder, "PROXY_SOCKET": proxy_socket}
    written.update({name: os.fspath(value) for name, value in optional.items()
                    if value is not None})
    if host is not None:
        written["HOST"] = host
    if port is not None:
        written["PORT"] = str(port)
    if pkg_name is not None:
        written["PKG_NAME"] = pkg_name
    for db in databases:
        written.update(database_env(db))
    reserved = reserved_names(labels)
    env = {name: value for name, value in (extra or {}).items()
           if name.upper() not in reserved}
    env.update(written)
    return env


@dataclass(frozen=True)
class RunPaths:
    """Where one run's files live on the node's disk (see :func:`run_paths`)."""

    run_dir: Path
    input_file: Path
    output_file: Path
    token_file: Path
    temporary_folder: Path

    @property
    def output_dir(self) -> Path:
        """The one folder of the run the algorithm may write; it holds ``output_file``."""
        return self.output_file.parent

    @property
    def job_dir(self) -> Path:
        return self.temporary_folder.parent


def run_paths(task_dir: StrPath, job_id: int, run_id: int) -> RunPaths:
    """Where a run's files live on the node::

        <task_dir>/jobs/<job>/tmp/             TEMPORARY_FOLDER, shared by the job's runs
        <task_dir>/jobs/<job>/<run>/input      INPUT_FILE (read-only for the algorithm)
        <task_dir>/jobs/<job>/<run>/token      TOKEN_FILE (read-only for the algorithm)
        <task_dir>/jobs/<job>/<run>/output/    the run's only writable folder, holding
        <task_dir>/jobs/<job>/<run>/output/output   OUTPUT_FILE

    The node's runtimes hand these to the algorithm (see :mod:`v6lib.node.run_files` for
    why the output has a folder of its own); the MockNetwork keeps the same layout per
    organization.
    """
    job_dir = Path(task_dir) / "jobs" / str(int(job_id))
    run_dir = job_dir / str(int(run_id))
    return RunPaths(run_dir, run_dir / "input", run_dir / "output" / "output",
                    run_dir / "token", job_dir / "tmp")
