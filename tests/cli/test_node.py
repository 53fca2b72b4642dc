"""``v6 node`` through click's CliRunner: new, list, stop, create-private-key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from v6lib.cli import main
from v6lib.config import load_node_config
from v6lib.crypto import load_private_key


@pytest.fixture(autouse=True)
def _config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def new_node(tmp_path: Path, *extra: str) -> Path:
    data = tmp_path / "site.csv"
    data.write_text("x\n1\n")
    result = CliRunner().invoke(main, [
        "node", "new", "--name", "alpha", "--api-key", "secret-key",
        "--server-url", "http://127.0.0.1", "--port", "7700", "--runtime", "process",
        "--database", f"default={data}", "--task-dir", str(tmp_path / "tasks"), *extra])
    assert result.exit_code == 0, result.output
    return tmp_path / "config" / "v6lib" / "node" / "alpha.yaml"


def test_new_writes_a_valid_private_config(tmp_path: Path) -> None:
    path = new_node(tmp_path, "--allowed-image", r"harbor\.org/.*",
                    "--allowed-algorithm", "^v6-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = load_node_config(path)
    assert config.name == "alpha" and config.runtime == "process"
    assert config.server_api_url == "http://127.0.0.1:7700/api"
    assert config.databases["default"].type == "csv"
    assert config.policies.allowed_images == [r"harbor\.org/.*"]
    assert config.policies.allowed_algorithms == ["^v6-"]
    assert yaml.safe_load(path.read_text())["api_key"] == "secret-key"


def test_new_refuses_to_overwrite_and_bad_database(tmp_path: Path) -> None:
    new_node(tmp_path)
    again = CliRunner().invoke(main, ["node", "new", "--name", "alpha", "--api-key", "k",
                                      "--server-url", "http://x"])
    assert again.exit_code != 0 and "--force" in again.output
    bad = CliRunner().invoke(main, ["node", "new", "--name", "beta", "--api-key", "k",
                                    "--server-url", "http://x", "--database", "nolabel"])
    assert bad.exit_code != 0 and "LABEL=PATH" in bad.output


def test_list_shows_configs_and_state(tmp_path: Path) -> None:
    new_node(tmp_path)
    result = CliRunner().invoke(main, ["node", "list"])
    assert result.exit_code == 0
    assert "alpha" in result.output and "http://127.0.0.1:7700/api" in result.output
    assert "stopped" in result.output


def test_stop_without_a_running_node_says_so(tmp_path: Path) -> None:
    new_node(tmp_path)
    result = CliRunner().invoke(main, ["node", "stop", "--config", "alpha"])
    assert result.exit_code != 0
    assert "node 'alpha' is not running" in result.output


def test_create_private_key_saves_0600_and_never_overwrites(tmp_path: Path) -> None:
    key_path = tmp_path / "keys" / "org.pem"
    new_node(tmp_path, "--encryption", "--private-key", str(key_path))
    result = CliRunner().invoke(main, ["node", "create-private-key", "--config", "alpha"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    load_private_key(key_path)
    again = CliRunner().invoke(main, ["node", "create-private-key", "--config", "alpha"])
    assert again.exit_code != 0 and "--force" in again.output


def test_node_log_file_is_private(tmp_path: Path) -> None:
    import logging

    from v6lib.cli.node import _setup_logging

    log_file = tmp_path / "logs" / "node.log"
    path = new_node(tmp_path)
    config = load_node_config(path, logging={"file": str(log_file), "use_console": False})
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        _setup_logging(config)
        logging.getLogger("v6lib.node").warning("hello")
    finally:
        for handler in root.handlers:
            if handler not in saved:
                handler.close()
        root.handlers[:] = saved
        root.setLevel(level)
    assert log_file.read_text().endswith("hello\n")
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700
