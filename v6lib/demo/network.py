"""A demo network that stays: the configurations behind ``v6 dev create-demo-network``.

Unlike ``v6 demo`` (everything in a temporary directory, gone afterwards), this writes an
ordinary server configuration ``<name>.yaml`` and node configurations
``<name>_node_<i>.yaml`` where ``v6 server`` and ``v6 node`` find them, imports the
organizations, a collaboration, its nodes and a ``dev_admin`` user into the server's
database (as vantage6's batch import does), and writes each node's synthetic patient
table. The network's own files (database, data, task directories, and
``network.yaml`` with its passwords, all 0600) live in ``$XDG_DATA_HOME/v6lib/dev/<name>``.
Starting, stopping and removing it is the CLI's business (``v6lib.cli.dev``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from v6lib.config.common import user_data_dir
from v6lib.demo.data import SITES, Site, write_sites
from v6lib.errors import ConfigurationError
from v6lib.private_files import make_private_dir, write_private

__all__ = ["DEV_ADMIN", "DemoNetwork", "NetworkSpec", "create_network", "network_dir",
           "node_name"]

DEV_ADMIN = "dev_admin"
IMAGE = "v6-average:latest"
RECORD = "network.yaml"


def network_dir(name: str) -> Path:
    """Where a network's own files live: ``$XDG_DATA_HOME/v6lib/dev/<name>``."""
    return user_data_dir("dev", name)


def node_name(network: str, number: int) -> str:
    """vantage6's name for a demo network's node: ``<network>_node_<number>``."""
    return f"{network}_node_{number}"


def _password() -> str:
    # NOTE: the suffix satisfies the default password policy (upper, lower, digit, symbol).
    return secrets.token_urlsafe(15) + "-Aa7"


@dataclass(frozen=True)
class NetworkSpec:
    """What ``v6 dev create-demo-network`` was asked for."""

    name: str = "demo"
    num_nodes: int = 3
    server_port: int = 7601
    server_url: str = "http://127.0.0.1"
    runtime: str = "process"
    seed: int = 6
    extra_server_config: Mapping[str, Any] = field(default_factory=dict)
    extra_node_config: Mapping[str, Any] = field(default_factory=dict)
    datasets: Sequence[tuple[str, Path]] = ()


@dataclass(frozen=True)
class DemoNetwork:
    """A created network, as recorded in its ``network.yaml``."""

    name: str
    server_config: Path
    node_configs: tuple[Path, ...]
    port: int
    username: str
    password: str
    collaboration: str
    runtime: str

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def save(self) -> Path:
        data = {"name": self.name, "server_config": str(self.server_config),
                "node_configs": [str(p) for p in self.node_configs], "port": self.port,
                "username": self.username, "password": self.password,
                "collaboration": self.collaboration, "runtime": self.runtime}
        path = network_dir(self.name) / RECORD
        write_private(path, yaml.safe_dump(data, sort_keys=False))
        return path

    @classmethod
    def load(cls, name: str) -> DemoNetwork:
        """The network called ``name``; ConfigurationError when there is none."""
        path = network_dir(name) / RECORD
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(
                f"there is no demo network {name!r} (no {path}); create it with "
                f"`v6 dev create-demo-network -n {name}`") from None
        return cls(name=data["name"], server_config=Path(data["server_config"]),
                   node_configs=tuple(Path(p) for p in data["node_configs"]),
                   port=int(data["port"]), username=data["username"],
                   password=data["password"], collaboration=data["collaboration"],
                   runtime=data["runtime"])


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _sites(count: int) -> tuple[Site, ...]:
    """``count`` site profiles, repeating the demo's three with a number when needed."""
    return tuple(replace(SITES[i % len(SITES)], name=SITES[i % len(SITES)].name
                         + (f" {i // len(SITES) + 1}" if i >= len(SITES) else ""))
                 for i in range(count))


def _write(path: Path, data: Mapping[str, Any]) -> Path:
    write_private(path, yaml.safe_dump(dict(data), sort_keys=False))  # passwords, API keys
    return path


def _import(server_config: Path, document: dict[str, Any]) -> dict[str, str]:
    """Import the organizations, users and collaboration; the nodes' API keys by label."""
    from v6lib.config import load_server_config
    from v6lib.server.db.migrate import migrated_session
    from v6lib.server.importer import import_data

    config = load_server_config(server_config)
    with migrated_session(str(config.uri)) as session:
        report = import_data(session, document, password_policy=config.password_policy)
        session.commit()
    return dict(report.api_keys)


def create_network(spec: NetworkSpec, server_dir: Path, node_dir: Path) -> DemoNetwork:
    """Write the configurations, data and database of a new network (see the module).

    Raises:
        ConfigurationError: a configuration of that name exists, or the spec is invalid.
    """
    if spec.num_nodes < 1:
        raise ConfigurationError("a demo network needs at least one node")
    server_path = server_dir / f"{spec.name}.yaml"
    node_paths = [node_dir / f"{node_name(spec.name, n)}.yaml"
                  for n in range(1, spec.num_nodes + 1)]
    taken = [p for p in (server_path, *node_paths) if p.exists()]
    workdir = network_dir(spec.name)
    if taken or (workdir / RECORD).exists():
        raise ConfigurationError(
            f"a demo network {spec.name!r} exists ({', '.join(map(str, taken)) or workdir}); "
            f"remove it first with `v6 dev remove-demo-network -n {spec.name}`")
    make_private_dir(workdir)
    sites = _sites(spec.num_nodes)
    paths = write_sites(workdir / "data", seed=spec.seed, sites=sites)
    _write(server_path, _merge({
        "name": spec.name, "host": "127.0.0.1", "port": spec.server_port, "api_path": "/api",
        "uri": f"sqlite:///{workdir / 'server' / 'server.sqlite'}",
        "root_password": _password(),
        "jwt_secret_file": str(workdir / "server" / "jwt_secret.key"),
        "workers": 2, "threads": 16, "logging": {"level": "INFO"},
    }, spec.extra_server_config))
    password = _password()
    collaboration = f"{spec.name} collaboration"
    keys = _import(server_path, {
        "organizations": [
            {"name": site.name, "address1": site.city, "country": site.country,
             "domain": f"site{n}.{spec.name}.dev.invalid",
             "users": [{"username": DEV_ADMIN, "password": password,
                        "firstname": "Dev", "lastname": "Admin"}] if n == 1 else []}
            for n, site in enumerate(sites, start=1)],
        "collaborations": [{"name": collaboration,
                            "participants": [{"name": site.name} for site in sites]}],
    })
    for number, (site, data, path) in enumerate(zip(sites, paths, node_paths, strict=True),
                                                start=1):
        name = node_name(spec.name, number)
        databases: dict[str, Any] = {"default": {"uri": str(data), "type": "csv"}}
        databases.update({label: str(Path(file).resolve()) for label, file in spec.datasets})
        _write(path, _merge({
            "name": name, "api_key": keys[f"{site.name} - {collaboration}"],
            "server_url": spec.server_url, "port": spec.server_port, "api_path": "/api",
            "task_dir": str(workdir / name), "databases": databases,
            "runtime": spec.runtime, "logging": {"level": "INFO"},
        }, spec.extra_node_config))
    network = DemoNetwork(name=spec.name, server_config=server_path,
                          node_configs=tuple(node_paths), port=spec.server_port,
                          username=DEV_ADMIN, password=password,
                          collaboration=collaboration, runtime=spec.runtime)
    network.save()
    return network
