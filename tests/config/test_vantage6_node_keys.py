"""vantage6 node keys: honoured, ignored with a warning, or refused naming the key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from v6lib.config import load_node_config
from v6lib.config.vantage6 import NODE_RULES
from v6lib.errors import ConfigurationError
from v6lib.node.options import NodeOptions


@pytest.fixture(autouse=True)
def _data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "node.yaml"
    path.write_text("api_key: k\n" + text, encoding="utf-8")
    return load_node_config(path)


def test_share_algorithm_logs_defaults_to_vantage6s_true(tmp_path: Path) -> None:
    assert load(tmp_path, "").share_algorithm_logs is True
    config = load(tmp_path, "share_algorithm_logs: false\n")
    assert NodeOptions.from_config(config).share_algorithm_logs is False


def test_gpu_device_requests(tmp_path: Path) -> None:
    config = load(tmp_path, "algorithm_device_requests: {gpu: true}\n")
    assert NodeOptions.from_config(config).gpus is True
    with pytest.raises(ConfigurationError,
                       match=r"node\.yaml: algorithm_device_requests\.tpu: unknown key"):
        load(tmp_path, "algorithm_device_requests: {tpu: true}\n")


def test_gpu_and_pull_on_the_process_runtime_are_warned(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="v6lib.config"):
        load(tmp_path, "runtime: process\nalgorithm_device_requests: {gpu: true}\n"
                       "policies: {require_algorithm_pull: true}\n")
    assert "algorithm_device_requests.gpu: ignored" in caplog.text
    assert "policies.require_algorithm_pull: ignored" in caplog.text


def test_require_algorithm_pull_reaches_the_docker_runtime(tmp_path: Path) -> None:
    from v6lib.node.runtime.docker import DockerRuntime

    options = NodeOptions.from_config(load(
        tmp_path, "policies: {require_algorithm_pull: true}\n"
                  "algorithm_device_requests: {gpu: true}\n"))
    runtime = DockerRuntime.from_options(options)
    assert runtime.always_pull is True and runtime.gpus is True


@pytest.mark.parametrize("key", sorted(k for k, r in NODE_RULES.items()
                                       if r.action == "ignore"))
def test_meaningless_keys_are_ignored_out_loud(tmp_path: Path, key: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="v6lib.config"):
        load(tmp_path, f"{key}: {{x: 1}}\n")
    assert f"node.yaml: {key}: ignored: " in caplog.text


@pytest.mark.parametrize(("text", "named"), [
    ("ssh_tunnels: [{hostname: h}]\n", "ssh_tunnels[0].ssh: required setting is missing"),
    ("whitelist: {ips: [not-an-ip]}\n", "whitelist.ips: 'not-an-ip' is not an IP"),
    ("whitelist: {ports: [70000]}\n", "whitelist.ports[0]: Input should be less"),
    ("runtime: process\ndocker_services: {db: pg}\n", "docker_services: needs runtime: "
     "docker"),
    ("run_context_file: true\n", "run_context_file:"),
    ("policies: {allowed_algorithm_stores: [https://store.example]}\n",
     "policies.allowed_algorithm_stores: v6lib has no algorithm store"),
    ("databases: [{label: d, uri: /d.csv, type: csv, env: {USER: u}}]\n",
     "databases.d.env: per-database environment variables are not supported"),
    ("databases: {d: {uri: /d.csv, mount_mode: rw}}\n", "databases.d.mount_mode: 'rw'"),
])
def test_keys_that_cannot_be_honoured_are_refused(tmp_path: Path, text: str,
                                                  named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load(tmp_path, text)
    assert f"node.yaml: {named}" in info.value.message


def test_whitelist_and_docker_services_are_honoured(tmp_path: Path) -> None:
    options = NodeOptions.from_config(load(
        tmp_path, "whitelist:\n  domains: [Example.org]\n  ips: [10.0.0.0/8, 192.0.2.7]\n"
                  "  ports: [8443]\ndocker_services: {omop-db: omop_postgres}\n"))
    allow = options.allowlist
    assert allow.target("api.example.org", 443) is not None
    assert allow.target("example.org", 8443) is not None
    assert allow.target("10.1.2.3", 80) is not None
    assert allow.target("example.org", 22) is None  # not a whitelisted port
    assert allow.target("example.com", 443) is None
    assert allow.target("192.0.2.8", 443) is None
    assert options.docker_services == {"omop-db": "omop_postgres"}


def test_ssh_tunnels_are_read_as_vantage6_writes_them(tmp_path: Path) -> None:
    options = NodeOptions.from_config(load(tmp_path, """
ssh_tunnels:
  - hostname: my-data-service
    ssh:
      host: my-remote-machine.net
      port: 2222
      fingerprint: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE"
      identity: {username: bob, key: /keys/id_ed25519}
    tunnel:
      bind: {ip: 0.0.0.0, port: 8000}
      dest: {ip: 127.0.0.1, port: 5432}
"""))
    (tunnel,) = options.ssh_tunnels
    assert (tunnel.hostname, tunnel.ssh_host, tunnel.ssh_port, tunnel.username) == (
        "my-data-service", "my-remote-machine.net", 2222, "bob")
    assert (tunnel.bind_port, tunnel.dest_ip, tunnel.dest_port) == (8000, "127.0.0.1", 5432)
    assert str(tunnel.key) == "/keys/id_ed25519"


def test_store_keys_and_basics_are_ignored_out_loud(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="v6lib.config"):
        config = load(tmp_path, "policies:\n  allowed_algorithms: [^v6-]\n"
                                "  allow_basics_algorithm: true\n"
                                "  allow_either_whitelist_or_store: true\n"
                                "databases: {d: {uri: /d.csv, mount_mode: copy}}\n")
    assert config.policies.allowed_algorithms == ["^v6-"]
    for key in ("policies.allow_basics_algorithm", "policies.allow_either_whitelist_or_store",
                "databases.d.mount_mode"):
        assert f"{key}: ignored" in caplog.text


def test_values_that_ask_for_nothing_pass_quietly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="v6lib.config"):
        load(tmp_path, "run_context_file: false\nshare_config: false\n"
                       "policies: {allow_basics_algorithm: false}\n"
                       "databases: {d: {uri: /d.csv, mount_mode: ro}}\n")
    assert caplog.text == ""


def test_both_pattern_lists_may_be_given(tmp_path: Path) -> None:
    policies = load(tmp_path, "policies:\n  allowed_images: ['v6-.*']\n"
                              "  allowed_algorithms: [harbor.org/algo, '^v6-']\n").policies
    assert policies.allowed_images == ["v6-.*"]
    assert policies.allowed_algorithms == ["harbor.org/algo", "^v6-"]
    with pytest.raises(ConfigurationError, match=r"policies\.allowed_algorithms: '\^\(' is "
                                                 "not a valid regular expression"):
        load(tmp_path, "policies: {allowed_algorithms: ['^(']}\n")


def test_every_vantage6_node_key_is_known() -> None:
    """The keys vantage6 4.15.2's node reads: none is an unknown key here."""
    keys = ["api_key", "server_url", "port", "api_path", "task_dir", "databases",
            "encryption", "logging", "algorithm_env", "docker_registries", "policies",
            "share_algorithm_logs", "share_config", "algorithm_device_requests",
            "vpn_subnet", "images", "node_extra_env", "node_extra_mounts",
            "node_extra_hosts", "ssh_tunnels", "whitelist", "docker_services",
            "run_context_file", "dev", "debug", "prometheus"]
    from v6lib.config import NodeConfig

    handled = set(NODE_RULES) | set(NodeConfig.model_fields)
    assert not [k for k in keys if k not in handled]
