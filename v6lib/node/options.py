"""What the node daemon needs from its configuration, as one small immutable value.

Why: the daemon and its tests should not depend on every field of the YAML model
(:class:`v6lib.config.NodeConfig`); the entry point converts the config once with
:meth:`NodeOptions.from_config`, tests build options directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from v6lib.config.node import DEFAULT_MAX_OUTPUT_BYTES
from v6lib.node.audit import AUDIT_FILE
from v6lib.node.runtime.base import JobDatabase
from v6lib.node.ssh_tunnels import SshTunnelSpec
from v6lib.rules.disclosure import DisclosureRules
from v6lib.rules.network_access import Allowlist
from v6lib.rules.node_policy import NodePolicy

if TYPE_CHECKING:
    from v6lib.config import NodeConfig

__all__ = ["NodeOptions"]


@dataclass(frozen=True)
class NodeOptions:
    """Settings of one node daemon (see ``docs`` of the node config for their meaning)."""

    name: str
    api_key: str
    server_api_url: str
    task_dir: Path
    server_ca_file: Path | None = None
    databases: Mapping[str, JobDatabase] = field(default_factory=dict)
    encryption_enabled: bool = False
    private_key_path: Path | None = None
    allowed_images: tuple[str, ...] = ()
    allowed_algorithms: tuple[str, ...] = ()
    allowed_organizations: frozenset[int] = frozenset()
    allowed_users: frozenset[int] = frozenset()
    algorithm_env: Mapping[str, str] = field(default_factory=dict)
    runtime: str = "docker"
    cpus: float | None = None
    memory: str | None = None
    proxy_port: int = 0
    process_images: Mapping[str, str] = field(default_factory=dict)
    process_warm_start: bool = True
    process_preload: tuple[str, ...] = ("pandas",)
    docker_warm_containers: bool = True
    journal_retention_days: float = 7.0
    algorithm_api_path: str = "/api"
    event_timeout: float = 25.0
    sweep_interval: float = 30.0
    docker_registries: tuple[Any, ...] = ()
    share_algorithm_logs: bool = True
    share_algorithm_tracebacks: bool = False
    gpus: bool = False
    require_algorithm_pull: bool = False
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    disclosure: DisclosureRules = field(default_factory=DisclosureRules)
    allow_progress_messages: bool = False
    min_free_disk_mb: int = 100
    give_up_after: float = 600.0
    max_run_seconds: float | None = None
    allowlist: Allowlist = field(default_factory=Allowlist)
    docker_services: Mapping[str, str] = field(default_factory=dict)
    ssh_tunnels: tuple[SshTunnelSpec, ...] = ()

    def __repr__(self) -> str:  # never print the API key
        return f"NodeOptions(name={self.name!r}, server={self.server_api_url!r})"

    @property
    def policy(self) -> NodePolicy:
        return NodePolicy(
            node_name=self.name,
            database_labels=frozenset(self.databases),
            encryption_enabled=self.encryption_enabled,
            allowed_images=tuple(self.allowed_images),
            allowed_algorithms=tuple(self.allowed_algorithms),
            allowed_organizations=self.allowed_organizations,
            allowed_users=self.allowed_users,
        )

    @property
    def journal_path(self) -> Path:
        return self.task_dir / "node-journal.sqlite"

    @property
    def audit_path(self) -> Path:
        """The node's audit trail (see :mod:`v6lib.node.audit`)."""
        return self.task_dir / AUDIT_FILE

    @property
    def trust_path(self) -> Path:
        """The organization keys this node pinned (see :mod:`v6lib.trust`)."""
        return self.task_dir / "trusted-keys.json"

    @property
    def pid_file(self) -> Path:
        return self.task_dir / "node.pid"

    @classmethod
    def from_config(cls, config: NodeConfig) -> NodeOptions:
        """Convert the node's YAML configuration once, at the entry point."""
        databases = {
            label: JobDatabase(label=label, uri=str(db.uri), type=str(db.type), query=db.query)
            for label, db in config.databases.items()
        }
        assert config.task_dir is not None  # NodeConfig fills in the default
        return cls(
            name=config.name,
            api_key=config.api_key.get_secret_value(),
            server_api_url=config.server_api_url,
            server_ca_file=config.server_ca_file,
            task_dir=Path(config.task_dir),
            databases=databases,
            encryption_enabled=config.encryption.enabled,
            private_key_path=config.encryption.private_key,
            allowed_images=tuple(config.policies.allowed_images),
            allowed_algorithms=tuple(config.policies.allowed_algorithms),
            allowed_organizations=frozenset(config.policies.allowed_organizations or ()),
            allowed_users=frozenset(config.policies.allowed_users or ()),
            algorithm_env=dict(config.algorithm_env),
            runtime=config.runtime,
            cpus=config.container.cpus,
            memory=config.container.memory,
            proxy_port=config.proxy_port or 0,
            process_images=dict(config.process_images),
            process_warm_start=config.process_warm_start,
            process_preload=tuple(config.process_preload),
            docker_warm_containers=config.docker_warm_containers,
            journal_retention_days=config.journal_retention_days,
            event_timeout=config.event_timeout,
            sweep_interval=config.sweep_interval,
            docker_registries=tuple(config.docker_registries),
            share_algorithm_logs=config.share_algorithm_logs,
            share_algorithm_tracebacks=config.share_algorithm_tracebacks,
            gpus=config.algorithm_device_requests.gpu,
            require_algorithm_pull=config.policies.require_algorithm_pull,
            max_output_bytes=config.max_output_bytes,
            disclosure=config.policies.disclosure.rules(),
            allow_progress_messages=config.policies.allow_progress_messages,
            min_free_disk_mb=config.min_free_disk_mb,
            give_up_after=config.give_up_after,
            max_run_seconds=config.max_run_seconds,
            allowlist=Allowlist.of(config.whitelist.domains, config.whitelist.ips,
                                   config.whitelist.ports),
            docker_services=dict(config.docker_services),
            ssh_tunnels=tuple(SshTunnelSpec(
                hostname=t.hostname, ssh_host=t.ssh.host, ssh_port=t.ssh.port,
                fingerprint=t.ssh.fingerprint, username=t.ssh.identity.username,
                key=t.ssh.identity.key, bind_port=t.tunnel.bind.port,
                dest_ip=t.tunnel.dest.ip, dest_port=t.tunnel.dest.port)
                for t in config.ssh_tunnels),
        )
