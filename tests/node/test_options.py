"""NodeOptions from a real node config file, and the runtime factory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from v6lib.config import load_node_config
from v6lib.errors import ConfigurationError
from v6lib.node.daemon import make_runtime
from v6lib.node.options import NodeOptions
from v6lib.node.runtime.process import ProcessRuntime


def test_from_config(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    path = tmp_path / "alpha.yaml"
    path.write_text(
        "api_key: s3cret\nserver_url: http://10.0.0.1\nport: 7000\nruntime: process\n"
        "task_dir: tasks\ndatabases:\n  default: a.csv\n  extra: {uri: postgresql://db/x,"
        " type: sql, query: select 1}\nencryption: {enabled: true, private_key: k.pem}\n"
        "policies: {allowed_images: ['v6-.*'], allowed_algorithms: [^v6-],"
        " allowed_organizations: [1, 2]}\n"
        "algorithm_env: {PLAYER: Alice}\ncontainer: {cpus: 1.5, memory: 2g}\n"
        "max_output_bytes: 1048576\n")
    options = NodeOptions.from_config(load_node_config(path))
    assert options.name == "alpha" and options.api_key == "s3cret"
    assert options.server_api_url == "http://10.0.0.1:7000/api"
    assert options.task_dir == tmp_path / "tasks"
    assert options.databases["default"].uri == str(tmp_path / "a.csv")
    assert options.databases["extra"].query == "select 1"
    assert options.encryption_enabled and options.private_key_path == tmp_path / "k.pem"
    assert options.allowed_images == ("v6-.*",)
    assert options.allowed_algorithms == ("^v6-",)
    assert options.policy.allowed_algorithms == ("^v6-",)
    assert options.allowed_organizations == frozenset({1, 2})
    assert options.allowed_users == frozenset()
    assert dict(options.algorithm_env) == {"PLAYER": "Alice"}
    assert (options.cpus, options.memory, options.runtime) == (1.5, "2g", "process")
    assert "s3cret" not in repr(options)
    assert options.policy.database_labels == frozenset({"default", "extra"})
    assert options.max_output_bytes == 1024 * 1024


def test_the_output_limit_defaults_to_the_servers_result_limit(tmp_path: Path) -> None:
    from v6lib.config import ServerConfig

    path = tmp_path / "beta.yaml"
    path.write_text("api_key: s3cret\n")
    options = NodeOptions.from_config(load_node_config(path))
    server_default = ServerConfig.model_fields["max_result_bytes"].default
    assert options.max_output_bytes == server_default == 2 * 1024 ** 3


def test_make_runtime(tmp_path: Path) -> None:
    options = NodeOptions(name="n", api_key="k", server_api_url="http://x/api",
                          task_dir=tmp_path, runtime="process")
    assert isinstance(make_runtime(options), ProcessRuntime)
    bad = NodeOptions(name="n", api_key="k", server_api_url="http://x/api",
                      task_dir=tmp_path, runtime="vm")
    with pytest.raises(ConfigurationError, match="runtime must be 'docker' or 'process'"):
        make_runtime(bad)


def test_disclosure_rules_from_config(tmp_path: Path) -> None:
    from v6lib.rules.disclosure import DisclosurePolicy

    path = tmp_path / "beta.yaml"
    path.write_text(
        "api_key: s3cret\nruntime: process\npolicies:\n  disclosure:\n"
        "    min_cell_count: 5\n    refuse_row_level: true\n    max_result_bytes: 100000\n"
        "    images:\n      'reviewed/.*': {min_cell_count: 3, untyped: refuse}\n")
    rules = NodeOptions.from_config(load_node_config(path)).disclosure
    assert rules.for_image("any:1") == DisclosurePolicy(
        min_cell_count=5, refuse_row_level=True, max_result_bytes=100000)
    assert rules.for_image("reviewed/glm:2") == DisclosurePolicy(min_cell_count=3,
                                                                 untyped="refuse")
    path.write_text("api_key: s\npolicies: {disclosure: {min_cell_count: 0}}\n")
    with pytest.raises(ConfigurationError, match="min_cell_count"):
        load_node_config(path)
    path.write_text("api_key: s\npolicies: {disclosure: {untyped: sometimes}}\n")
    with pytest.raises(ConfigurationError, match="untyped"):
        load_node_config(path)


def test_runtimes_get_the_nodes_network_settings(tmp_path: Path) -> None:
    from v6lib.node.runtime.base import JobDatabase
    from v6lib.node.runtime.docker import DockerRuntime
    from v6lib.node.ssh_tunnels import SshTunnelSpec
    from v6lib.rules.network_access import Allowlist

    tunnel = SshTunnelSpec("svc", "ssh.example", 22, "ssh-ed25519 AAAA", "bob",
                           tmp_path / "key", 8000, "127.0.0.1", 5432)
    network = JobDatabase("remote", "postgresql://u:p@db.example/x", "sql")
    options = NodeOptions(
        name="n", api_key="k", server_api_url="http://x/api", task_dir=tmp_path,
        databases={"file": JobDatabase("file", str(tmp_path / "a.csv"), "csv"),
                   "remote": network},
        allowlist=Allowlist.of(domains=["example.org"]), docker_services={"omop": "pg"},
        ssh_tunnels=(tunnel,))
    docker = make_runtime(options)
    assert isinstance(docker, DockerRuntime)
    assert docker.allowlist.domains == ("example.org",)
    assert docker.services == {"omop": "pg"} and docker.network_databases == [network]
    assert docker.relay_dir == tmp_path / "relays"
    assert docker.tunnels is not None and docker.tunnels.specs == [tunnel]
    process = make_runtime(replace(options, runtime="process", docker_services={}))
    assert isinstance(process, ProcessRuntime)
    assert process.allowlist.domains == ("example.org",)
    assert process.tunnels is not None and process.tunnels.specs == [tunnel]
