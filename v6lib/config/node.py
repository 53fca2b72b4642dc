"""Node configuration model: server connection, databases, encryption and data-owner policies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from v6lib.config.common import LoggingConfig, StrictModel, normalize_api_path, user_data_dir
from v6lib.config.vantage6 import (
    translate_database,
    translate_node,
    translate_policies,
    warn_ignored,
)
from v6lib.rules.disclosure import (
    DEFAULT_IDENTIFIER_COLUMNS,
    DisclosurePolicy,
    DisclosureRules,
    UntypedMode,
)
from v6lib.rules.node_policy import looks_like_regex

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "ContainerLimits",
    "DatabaseConfig",
    "DeviceRequests",
    "DisclosureConfig",
    "DockerRegistry",
    "EncryptionConfig",
    "NodeConfig",
    "NodePolicies",
    "SshTunnelConfig",
    "WhitelistConfig",
]

#: The largest output a node reads from a run: the server's default max_result_bytes.
DEFAULT_MAX_OUTPUT_BYTES = 2 * 1024 * 1024 * 1024
DatabaseType = Literal["csv", "parquet", "sql", "omop", "sparql", "excel"]
_LABEL = re.compile(r"^[A-Za-z0-9_]+$")
_SUFFIX_TYPES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
                 ".sqlite": "sql", ".sqlite3": "sql", ".db": "sql", ".ttl": "sparql",
                 ".rdf": "sparql", ".nt": "sparql", ".owl": "sparql", ".xlsx": "excel",
                 ".xls": "excel"}
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle")


def _check_label(label: str) -> str:
    if not _LABEL.match(label):
        raise ValueError(
            f"database label {label!r} may only contain letters, digits and underscores"
        )
    return label


#: A database label becomes part of environment variable names inside algorithm containers.
DatabaseLabel = Annotated[str, AfterValidator(_check_label)]


def _infer_type(uri: str) -> str | None:
    lowered = uri.lower()
    scheme = lowered.split("://", 1)[0] if "://" in lowered else ""
    if scheme in ("http", "https"):
        return "sparql"
    if scheme.split("+", 1)[0] in _SQL_SCHEMES:
        return "sql"
    name = lowered.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix, kind in _SUFFIX_TYPES.items():
        if name.endswith(suffix):
            return kind
    return None


def _all_compile(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        _check_regex(pattern)
    return patterns


#: Regular expressions, each checked to compile when the configuration is read.
Patterns = Annotated[list[str], AfterValidator(_all_compile)]


class DatabaseConfig(StrictModel):
    """One data source: a plain URI string, or ``{uri, type, query}``."""

    uri: str = Field(min_length=1)
    type: DatabaseType
    query: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, value: Any) -> Any:
        if isinstance(value, str | Path):
            value = {"uri": str(value)}
        if isinstance(value, dict):
            value = translate_database(value)
            if isinstance(value.get("type"), str):
                value["type"] = value["type"].lower()
            if value.get("type") is None and isinstance(value.get("uri"), str):
                inferred = _infer_type(value["uri"])
                if inferred is None:
                    raise ValueError(
                        f"cannot infer the database type from {value['uri']!r}; "
                        "add type: csv, parquet, sql, sparql or excel"
                    )
                value["type"] = inferred
        return value


class WhitelistConfig(StrictModel):
    """vantage6's ``whitelist``: what runs may reach over HTTP(S) through the node's
    allowlisting proxy (see :mod:`v6lib.rules.network_access`)."""

    domains: list[str] = []
    ips: list[str] = []
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = []

    @field_validator("ips")
    @classmethod
    def _networks(cls, ips: list[str]) -> list[str]:
        import ipaddress

        for ip in ips:
            try:
                ipaddress.ip_network(ip, strict=False)
            except ValueError:
                raise ValueError(f"{ip!r} is not an IP address or network") from None
        return ips


class _SshIdentity(StrictModel):
    username: str
    key: Path


class _SshServer(StrictModel):
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    fingerprint: str = Field(min_length=1)  # the server's host key line: "ssh-ed25519 AAAA..."
    identity: _SshIdentity


class _HostPort(StrictModel):
    ip: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class _TunnelEnds(StrictModel):
    bind: _HostPort  # what algorithms name (with ``hostname``); bind.ip has no meaning here
    dest: _HostPort  # the data source, as the SSH server sees it


class SshTunnelConfig(StrictModel):
    """vantage6's ``ssh_tunnels`` entry: runs naming ``hostname:tunnel.bind.port`` reach
    ``tunnel.dest`` through the SSH server (see :mod:`v6lib.node.ssh_tunnels`)."""

    hostname: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    ssh: _SshServer
    tunnel: _TunnelEnds


class EncryptionConfig(StrictModel):
    enabled: bool = False
    private_key: Path | None = None


class DisclosureSettings(StrictModel):
    """One set of disclosure rules (see :mod:`v6lib.rules.disclosure`); all off by default."""

    min_cell_count: int | None = Field(default=None, ge=1)
    refuse_row_level: bool = False
    max_result_bytes: int | None = Field(default=None, gt=0)
    untyped: UntypedMode = "check"
    identifier_columns: Patterns = list(DEFAULT_IDENTIFIER_COLUMNS)
    row_level_fraction: float = Field(default=0.5, gt=0, le=1)

    def policy(self) -> DisclosurePolicy:
        return DisclosurePolicy(
            min_cell_count=self.min_cell_count, refuse_row_level=self.refuse_row_level,
            max_result_bytes=self.max_result_bytes, untyped=self.untyped,
            identifier_columns=tuple(self.identifier_columns),
            row_level_fraction=self.row_level_fraction)


class DisclosureConfig(DisclosureSettings):
    """``policies.disclosure``: the node's rules, and ``images``: other rules for the
    images matching a pattern (``allowed_images`` patterns; the first match wins)."""

    images: dict[str, DisclosureSettings] = {}

    @field_validator("images")
    @classmethod
    def _patterns_compile(cls, images: dict[str, DisclosureSettings]
                          ) -> dict[str, DisclosureSettings]:
        for pattern in images:
            _check_regex(pattern.split("@sha256:", 1)[0])
        return images

    def rules(self) -> DisclosureRules:
        return DisclosureRules(self.policy(), tuple(
            (pattern, settings.policy()) for pattern, settings in self.images.items()))


class NodePolicies(StrictModel):
    """Data-owner policies: which images, organizations and users may run here.

    ``allowed_images`` are v6lib's full-match patterns, ``allowed_algorithms`` vantage6's
    prefix patterns and image names (see :mod:`v6lib.rules.node_policy`); an image that
    either list allows may run.
    """

    allowed_images: Patterns = []
    allowed_algorithms: list[str] = []
    allowed_organizations: list[int] | None = None
    allowed_users: list[int] | None = None
    # vantage6's key: pull the image before every run and refuse the run when the pull
    # fails, so no stale local copy runs (Docker runtime; default: use a local copy)
    require_algorithm_pull: bool = False
    # v6lib's: what a result may hold before it leaves the node (min_cell_count, ...)
    disclosure: DisclosureConfig = DisclosureConfig()
    # v6lib's: let progress reports carry the algorithm's short message (see
    # v6lib.rules.progress); off by default, since a message may carry data values
    allow_progress_messages: bool = False

    @model_validator(mode="before")
    @classmethod
    def _vantage6_keys(cls, value: Any) -> Any:
        return translate_policies(value) if isinstance(value, dict) else value

    @field_validator("allowed_images", "allowed_algorithms", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("allowed_algorithms")
    @classmethod
    def _expressions_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if looks_like_regex(pattern):
                _check_regex(pattern)
        return patterns


def _check_regex(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None


class DockerRegistry(StrictModel):
    registry: str
    username: str | None = None
    password: SecretStr | None = None


class DeviceRequests(StrictModel):
    """Devices algorithm containers may use (vantage6's ``algorithm_device_requests``)."""

    gpu: bool = False


class ContainerLimits(StrictModel):
    cpus: float | None = Field(default=None, gt=0)
    memory: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?[bkmgtBKMGT]?$")


class NodeConfig(StrictModel):
    name: str = "node"
    api_key: SecretStr
    server_url: str = "http://localhost"
    port: int = Field(default=7601, ge=1, le=65535)
    api_path: str = "/api"
    # PEM bundle of the CAs to trust for an https server_url signed by a private CA
    # (default: the system's trust store)
    server_ca_file: Path | None = None
    task_dir: Path | None = None
    databases: dict[DatabaseLabel, DatabaseConfig] = {}
    encryption: EncryptionConfig = EncryptionConfig()
    policies: NodePolicies = NodePolicies()
    algorithm_env: dict[str, str] = {}
    docker_registries: list[DockerRegistry] = []
    logging: LoggingConfig = LoggingConfig()
    runtime: Literal["docker", "process"] = "docker"
    container: ContainerLimits = ContainerLimits()
    proxy_port: int | None = Field(default=None, ge=1, le=65535)
    # vantage6's keys: destinations runs may reach through the node's allowlisting HTTP
    # proxy, and containers (name algorithms use -> container name) reached through it
    # and by database URIs naming them (see docs/node-operator.md)
    whitelist: WhitelistConfig = WhitelistConfig()
    docker_services: dict[str, str] = {}
    ssh_tunnels: list[SshTunnelConfig] = []
    # Process runtime only: image name (or regex) -> importable algorithm module.
    process_images: dict[str, str] = {}
    # Process runtime only: fork runs from a warm interpreter that has already imported
    # v6lib's wrapper and these modules (a fresh interpreter per run when false).
    process_warm_start: bool = True
    process_preload: list[str] = ["pandas"]
    # Docker runtime only: the later runs of a job (same image, databases, limits) share a
    # warm container instead of one container each (see docs/operations/docker.md).
    docker_warm_containers: bool = True
    # Days an uploaded run stays in the node's journal (its result is dropped at upload).
    journal_retention_days: float = Field(default=7.0, gt=0)
    # Seconds one long-poll for events may be held open by the server.
    event_timeout: float = Field(default=25.0, gt=0, le=60)
    # Seconds between sweeps for pending runs missed while the event stream was down.
    sweep_interval: float = Field(default=30.0, gt=0)
    # vantage6's key and default: send each run's algorithm log to the server, where the
    # researcher reads it. False keeps logs in the node's own log; only the failure
    # reason (the first line of the algorithm's error) is sent. Logs may show data.
    share_algorithm_logs: bool = True
    # v6lib's: with shared logs, send Python tracebacks too (default: each traceback is
    # replaced by one line; the reason, the exception's own line, is always sent).
    share_algorithm_tracebacks: bool = False
    # vantage6's key: devices every algorithm container gets (Docker runtime)
    algorithm_device_requests: DeviceRequests = DeviceRequests()
    # Bytes: the largest output file the node reads from a run (larger: the run ends as
    # "unexpected output"); the default is the server's default max_result_bytes.
    max_output_bytes: int = Field(default=DEFAULT_MAX_OUTPUT_BYTES, gt=0)
    # Megabytes that must stay free in task_dir for the node to take a new run; below
    # it a new run ends as "start failed" (runs already in flight go on).
    min_free_disk_mb: int = Field(default=100, ge=0)
    # Seconds a thread of the node may keep failing before the node exits non-zero
    # (for its service manager to restart it).
    give_up_after: float = Field(default=600.0, gt=0)
    # Seconds a run may take from its start; a longer one is ended as "failed" (off when
    # unset).
    max_run_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _vantage6_forms(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = translate_node(data)
        if isinstance(data.get("policies"), dict):
            data["policies"] = translate_policies(data["policies"])
        if "allowed_images" in data:
            # NOTE: vantage6 3.x's top-level list, matched as vantage6 matches
            policies = dict(data.get("policies") or {})
            if "allowed_images" in policies or "allowed_algorithms" in policies:
                raise ValueError("allowed_images is given both at top level and in policies")
            policies["allowed_algorithms"] = data.pop("allowed_images")
            data["policies"] = policies
        databases = data.get("databases")
        if isinstance(databases, list):
            databases = data["databases"] = _database_list(databases)
        if isinstance(databases, dict):
            data["databases"] = {label: translate_database(entry, str(label))
                                 if isinstance(entry, dict) else entry
                                 for label, entry in databases.items()}
        return data

    @field_validator("api_path")
    @classmethod
    def _api_path(cls, value: str) -> str:
        return normalize_api_path(value)

    @field_validator("algorithm_env", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _process_runtime_notes(self) -> NodeConfig:
        if self.runtime == "process":
            if self.algorithm_device_requests.gpu:
                warn_ignored("algorithm_device_requests.gpu", "the process runtime runs "
                             "algorithms as local processes, which see what the node sees")
            if self.docker_services:
                raise ValueError("docker_services: needs runtime: docker (the process "
                                 "runtime does not look up Docker containers)")
            if self.policies.require_algorithm_pull:
                warn_ignored("policies.require_algorithm_pull", "the process runtime runs "
                             "Python modules, not images")
        return self

    @model_validator(mode="after")
    def _default_task_dir(self) -> NodeConfig:
        if self.task_dir is None:
            object.__setattr__(self, "task_dir", user_data_dir("node", self.name))
        return self

    @property
    def server_api_url(self) -> str:
        """Base URL of the server API, e.g. ``http://localhost:7601/api``."""
        base = self.server_url.rstrip("/")
        has_port = re.search(r"://[^/]*:\d+$", base) is not None
        return f"{base}{'' if has_port else f':{self.port}'}{self.api_path}"


def _database_list(items: list[Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "label" not in item:
            raise ValueError(f"databases[{position}] must be a mapping with label, uri and type")
        entry = dict(item)
        label = str(entry.pop("label"))
        if label in result:
            raise ValueError(f"database label {label!r} is used twice")
        result[label] = entry
    return result
