"""Configuration files: vantage6-style files load, normalize, and errors name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from v6lib.config import (
    DatabaseConfig,
    NodeConfig,
    ServerConfig,
    load_node_config,
    load_server_config,
)
from v6lib.errors import ConfigurationError

VANTAGE6_NODE = r"""
application:
  api_key: 123e4567-e89b-12d3-a456-426614174001
  server_url: https://petronas.vantage6.ai
  port: 443
  api_path: ''
  vpn_subnet: 10.76.0.0/16
  algorithm_env:
    player: Alice
  images:
    node: harbor2.vantage6.ai/infrastructure/node:petronas
  databases:
    default: D:\data\datafile.csv
  encryption:
    enabled: false
    private_key: /path/to/private_key.pem
  allowed_images:
  - ^harbor.vantage6.ai/[a-zA-Z]+/[a-zA-Z]+
  docker_registries:
  - registry: docker-registry.org
    username: docker-registry-user
    password: docker-registry-password
  logging:
    level: DEBUG
    file: my_node.log
    use_console: True
    backup_count: 5
    max_size: 1024
    format: "%(asctime)s - %(name)-14s - %(levelname)-8s - %(message)s"
    datefmt: "%Y-%m-%d %H:%M:%S"
  task_dir: C:\Users\me\AppData\Local\vantage6\node\tno1
"""

VANTAGE6_SERVER = """
application: {}
environments:
  test:
    description: Test
    type: test
    ip: 0.0.0.0
    port: 5000
    api_path: /api
    uri: sqlite:///test.sqlite
    allow_drop_all: True
    jwt_secret_key: super-secret-key!
    logging:
      level: DEBUG
      file: test.log
      use_console: True
      backup_count: 5
      max_size: 1024
    smtp:
      port: 587
      server: smtp.yourmailserver.com
      username: your-username
      password: super-secret-password
    email_token_validity_minutes: 60
    support_email: support@example.org
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("V6_NODE_", "V6_SERVER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_vantage6_node_file_loads(tmp_path: Path) -> None:
    config = load_node_config(write(tmp_path, "tno1.yaml", VANTAGE6_NODE))
    assert config.name == "tno1"
    assert config.api_key.get_secret_value() == "123e4567-e89b-12d3-a456-426614174001"
    assert config.server_url == "https://petronas.vantage6.ai" and config.port == 443
    assert config.api_path == ""
    assert config.databases == {"default": DatabaseConfig(uri=r"D:\data\datafile.csv", type="csv")}
    # vantage6 3.x's top-level list keeps vantage6's (prefix) meaning
    assert config.policies.allowed_algorithms == ["^harbor.vantage6.ai/[a-zA-Z]+/[a-zA-Z]+"]
    assert config.policies.allowed_images == []
    assert config.algorithm_env == {"player": "Alice"}
    registry = config.docker_registries[0]
    assert registry.password is not None
    assert registry.password.get_secret_value() == "docker-registry-password"
    assert config.logging.level == "DEBUG" and config.logging.file == tmp_path / "my_node.log"
    assert str(config.task_dir) == r"C:\Users\me\AppData\Local\vantage6\node\tno1"
    assert config.encryption.private_key == Path("/path/to/private_key.pem")
    assert "docker-registry-password" not in repr(config)


def test_node_defaults(tmp_path: Path) -> None:
    config = load_node_config(write(tmp_path, "alpha.yaml", "api_key: k\n"))
    assert config.server_url == "http://localhost" and config.port == 7601
    assert config.api_path == "/api" and config.runtime == "docker"
    assert config.task_dir == tmp_path / "xdg" / "v6lib" / "node" / "alpha"
    assert config.databases == {} and config.proxy_port is None
    assert config.encryption.enabled is False and config.policies.allowed_organizations is None
    assert config.server_api_url == "http://localhost:7601/api"


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("data.csv", "csv"),
        ("data.parquet", "parquet"),
        ("data.sqlite", "sql"),
        ("data.db", "sql"),
        ("graph.ttl", "sparql"),
        ("graph.rdf", "sparql"),
        ("graph.nt", "sparql"),
        ("sheet.xlsx", "excel"),
        ("postgresql://u:p@db/x", "sql"),
        ("postgresql+psycopg://u:p@db/x", "sql"),
        ("sqlite:///abs.db", "sql"),
        ("https://example.org/sparql", "sparql"),
    ],
)
def test_database_type_is_inferred(tmp_path: Path, uri: str, kind: str) -> None:
    path = write(tmp_path, "n.yaml", f"api_key: k\ndatabases:\n  main: '{uri}'\n")
    assert load_node_config(path).databases["main"].type == kind


def test_database_forms_are_normalized(tmp_path: Path) -> None:
    text = """
api_key: k
databases:
  plain: /data/a.csv
  full: {uri: "postgresql://db/x", type: SQL, query: "SELECT * FROM t"}
  relative: rel/b.parquet
"""
    config = load_node_config(write(tmp_path, "n.yaml", text))
    assert config.databases["plain"] == DatabaseConfig(uri="/data/a.csv", type="csv")
    assert config.databases["full"].type == "sql"
    assert config.databases["full"].query == "SELECT * FROM t"
    assert config.databases["relative"].uri == str(tmp_path / "rel" / "b.parquet")


def test_server_ca_file_is_next_to_the_config_and_reaches_the_daemon(tmp_path: Path) -> None:
    from v6lib.node.options import NodeOptions

    text = "api_key: k\nserver_url: https://v6.example.org\nserver_ca_file: ca/ours.pem\n"
    config = load_node_config(write(tmp_path, "n.yaml", text))
    assert config.server_ca_file == tmp_path / "ca" / "ours.pem"
    assert NodeOptions.from_config(config).server_ca_file == tmp_path / "ca" / "ours.pem"
    assert load_node_config(write(tmp_path, "m.yaml", "api_key: k\n")).server_ca_file is None


def test_database_list_form(tmp_path: Path) -> None:
    text = """
api_key: k
databases:
  - {label: default, uri: /d/a.csv, type: csv}
  - {label: other, uri: /d/b.xlsx}
"""
    config = load_node_config(write(tmp_path, "n.yaml", text))
    assert list(config.databases) == ["default", "other"]
    assert config.databases["other"].type == "excel"


def test_policies_and_vantage6_allowed_algorithms(tmp_path: Path) -> None:
    text = """
api_key: k
policies:
  allowed_algorithms: ["^repo/.*$"]
  allowed_organizations: [1, 2]
  allowed_users: [7]
"""
    policies = load_node_config(write(tmp_path, "n.yaml", text)).policies
    assert policies.allowed_algorithms == ["^repo/.*$"] and policies.allowed_images == []
    assert policies.allowed_organizations == [1, 2] and policies.allowed_users == [7]


def test_container_runtime_and_proxy(tmp_path: Path) -> None:
    text = "api_key: k\nruntime: process\ncontainer: {cpus: 1.5, memory: 2g}\nproxy_port: 9000\n"
    config = load_node_config(write(tmp_path, "n.yaml", text))
    assert config.runtime == "process" and config.proxy_port == 9000
    assert config.container.cpus == 1.5 and config.container.memory == "2g"


def _error(loader, tmp_path: Path, text: str, name: str = "node.yaml") -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError) as info:
        loader(write(tmp_path, name, text))
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "api_key: k\ndatabases:\n  default: {uri: a.csv, type: cvs}\n",
            "node.yaml: databases.default.type: must be one of csv, parquet, sql, omop, "
            "sparql, excel",
        ),
        (
            "api_key: k\ndatabases:\n  bad-label: a.csv\n",
            "node.yaml: databases.bad-label: database label 'bad-label' may only contain",
        ),
        (
            "api_key: k\ndatabases:\n  x: something\n",
            "node.yaml: databases.x: cannot infer the database type from 'something'",
        ),
        ("api_key: k\nencrytion: {enabled: true}\n", "node.yaml: encrytion: unknown key"),
        ("api_key: k\nencryption: {enabeld: true}\n", "node.yaml: encryption.enabeld: unknown"),
        (
            "api_key: k\npolicies: {allowed_images: ['(unclosed']}\n",
            "node.yaml: policies.allowed_images: '(unclosed' is not a valid regular expression",
        ),
        ("api_key: k\nport: 99999\n", "node.yaml: port: "),
        ("server_url: x\n", "node.yaml: api_key: required setting is missing"),
        ("api_key: k\nruntime: podman\n", "node.yaml: runtime: must be one of docker, process"),
        (
            "api_key: k\ndocker_registries:\n  - {registry: r, pasword: p}\n",
            "node.yaml: docker_registries[0].pasword: unknown key",
        ),
        ("api_key: k\ncontainer: {memory: lots}\n", "node.yaml: container.memory:"),
        (
            "api_key: k\nallowed_images: [a]\npolicies: {allowed_images: [b]}\n",
            "both at top level and in policies",
        ),
    ],
)
def test_node_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    message = _error(load_node_config, tmp_path, text)
    assert expected in message
    assert message.split(": ", 1)[0].endswith("node.yaml")


def test_typo_suggestion(tmp_path: Path) -> None:
    assert "did you mean 'encryption'" in _error(
        load_node_config, tmp_path, "api_key: k\nencrytion: {}\n"
    )


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"missing\.yaml: configuration file not found"):
        load_node_config(tmp_path / "missing.yaml")
    assert "invalid YAML at line 2" in _error(load_node_config, tmp_path, "a: 1\n b: [\n")
    assert "top level must be a mapping" in _error(load_node_config, tmp_path, "- 1\n- 2\n")
    assert "environments.prod: no such environment" in _error(
        load_server_config, tmp_path, "environments:\n  dev: {}\n  test: {}\n", "server.yaml"
    )


def test_environment_overrides_file_and_init_overrides_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "n.yaml", "api_key: from-file\nport: 1000\n")
    monkeypatch.setenv("V6_NODE_PORT", "2000")
    monkeypatch.setenv("V6_NODE_ENCRYPTION__ENABLED", "true")
    monkeypatch.setenv("V6_NODE_POLICIES__ALLOWED_ORGANIZATIONS", "[3, 4]")
    monkeypatch.setenv("V6_NODE_CONFIG_DIR", "/ignored/not/a/field")
    config = load_node_config(path)
    assert config.port == 2000 and config.encryption.enabled is True
    assert config.policies.allowed_organizations == [3, 4]
    assert config.api_key.get_secret_value() == "from-file"
    assert load_node_config(path, port=3000).port == 3000
    monkeypatch.setenv("V6_NODE_PORT", "abc")
    with pytest.raises(ConfigurationError, match=r"n\.yaml: port:"):
        load_node_config(path)


def test_vantage6_server_file_loads(tmp_path: Path) -> None:
    config = load_server_config(write(tmp_path, "server.yaml", VANTAGE6_SERVER), environment="test")
    assert config.host == "0.0.0.0" and config.port == 5000 and config.api_path == "/api"
    assert config.uri == "sqlite:///test.sqlite"
    assert config.jwt_secret_key is not None
    assert config.jwt_secret_key.get_secret_value() == "super-secret-key!"
    assert config.smtp is not None and config.smtp.server == "smtp.yourmailserver.com"
    assert config.description == "Test" and config.logging.level == "DEBUG"
    # recovery mail settings are honoured, not dropped
    assert config.email_token_validity_minutes == 60
    assert config.support_email == "support@example.org"
    # a single environment is picked without being named
    assert load_server_config(write(tmp_path, "s2.yaml", VANTAGE6_SERVER)).port == 5000


def test_server_defaults(tmp_path: Path) -> None:
    config = load_server_config(write(tmp_path, "central.yaml", ""))
    assert config.name == "central" and config.host == "127.0.0.1" and config.port == 7601
    data_dir = tmp_path / "xdg" / "v6lib" / "server" / "central"
    assert config.uri == f"sqlite:///{data_dir}/server.sqlite"
    assert (config.access_token_minutes, config.refresh_token_hours) == (15, 24)
    assert config.container_token_hours == 24 and config.max_failed_logins == 5
    assert config.lockout_minutes == 15 and config.mfa_required is False
    assert config.root_username == "root" and config.root_password is None
    assert config.password_policy.min_length == 8 and config.cors_origins == []
    assert config.max_request_bytes >= 50 * 2**20 and (config.workers, config.threads) == (2, 8)
    assert config.trusted_proxies == []


def test_trusted_proxies_are_networks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_server_config(write(tmp_path, "p.yaml",
                                      "trusted_proxies: [10.0.0.0/8, 192.0.2.1, 'fd00::/8']\n"))
    assert [str(n) for n in config.trusted_proxies] == ["10.0.0.0/8", "192.0.2.1/32",
                                                         "fd00::/8"]
    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        load_server_config(write(tmp_path, "bad.yaml", "trusted_proxies: [proxy.local]\n"))
    monkeypatch.setenv("V6_SERVER_TRUSTED_PROXIES", '["172.16.0.0/12"]')
    from_env = load_server_config(write(tmp_path, "e.yaml", ""))
    assert [str(n) for n in from_env.trusted_proxies] == ["172.16.0.0/12"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prot: 1\n", "server.yaml: prot: unknown key (not a known setting); did you mean 'port'"),
        ("ip: 1.2.3.4\nhost: 5.6.7.8\n", "give host or ip"),
        ("password_policy: {min_length: 0}\n", "server.yaml: password_policy.min_length:"),
        ("logging: {level: LOUD}\n", "server.yaml: logging.level: must be one of CRITICAL"),
        ("workers: none\n", "server.yaml: workers:"),
    ],
)
def test_server_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(load_server_config, tmp_path, text, "server.yaml")


def test_server_environment_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("V6_SERVER_JWT_SECRET_KEY", "from-env")
    monkeypatch.setenv("V6_SERVER_CORS_ORIGINS", '["https://ui.example"]')
    config = load_server_config(write(tmp_path, "s.yaml", "jwt_secret_key: from-file\n"))
    assert config.jwt_secret_key is not None
    assert config.jwt_secret_key.get_secret_value() == "from-env"
    assert config.cors_origins == ["https://ui.example"]


def test_models_can_be_built_directly() -> None:
    node = NodeConfig(api_key="k", databases={"d": "x.csv"})  # type: ignore[arg-type, dict-item]
    assert node.databases["d"].type == "csv" and node.name == "node"
    assert ServerConfig(ip="0.0.0.0").host == "0.0.0.0"  # type: ignore[call-arg]


def test_public_names_are_exported() -> None:
    import v6lib.config as config

    for name in config.__all__:
        assert getattr(config, name) is not None
    assert {"NodeConfig", "ServerConfig", "DatabaseConfig", "load_node_config"} <= set(
        config.__all__
    )


def test_application_section_with_empty_environments(tmp_path: Path) -> None:
    text = "application:\n  api_key: k\n  port: 9\nenvironments: {}\n"
    assert load_node_config(write(tmp_path, "n.yaml", text)).port == 9
    picked = "environments:\n  dev: {api_key: d}\n  prod: {api_key: p}\n"
    path = write(tmp_path, "m.yaml", picked)
    assert load_node_config(path).api_key.get_secret_value() == "p"
    assert load_node_config(path, environment="dev").api_key.get_secret_value() == "d"


def test_vantage6_smtp_keys(tmp_path: Path) -> None:
    text = ("smtp:\n  server: mail.example.org\n  port: 465\n  from: v6@example.org\n"
            "  tls: implicit\n  email_token_validity_minutes: 10\n  ca_file: ca.pem\n")
    config = load_server_config(write(tmp_path, "s.yaml", text))
    assert config.smtp is not None and config.smtp.email_from == "v6@example.org"
    assert config.smtp.tls == "implicit" and config.email_token_validity_minutes == 10
    assert config.smtp.ca_file == tmp_path / "ca.pem"
    clash = "email_token_validity_minutes: 5\nsmtp: {server: m, email_token_validity_minutes: 9}\n"
    with pytest.raises(ConfigurationError, match="given twice"):
        load_server_config(write(tmp_path, "clash.yaml", clash))
    with pytest.raises(ConfigurationError, match="tls"):
        load_server_config(write(tmp_path, "bad.yaml", "smtp: {server: m, tls: maybe}\n"))
