"""Selecting a configuration: NAME, -n/--name, -c/--config, --system/--user."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from v6lib.cli import main
from v6lib.cli._configs import list_configs, resolve_config, system_config_dir, user_config_dir
from v6lib.cli._select import Selection
from v6lib.errors import ConfigurationError


@pytest.fixture(autouse=True)
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", f"{tmp_path / 'system'}:/etc/xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "user" / "v6lib", tmp_path / "system" / "v6lib"


def new_server(name: str, *scope: str) -> None:
    result = CliRunner().invoke(main, ["server", "new", "-n", name, *scope])
    assert result.exit_code == 0, result.output


def test_directories_follow_xdg(dirs: tuple[Path, Path]) -> None:
    user, system = dirs
    assert user_config_dir("node") == user / "node"
    assert system_config_dir("node") == system / "node"


def test_new_writes_to_user_or_system(dirs: tuple[Path, Path]) -> None:
    user, system = dirs
    new_server("alpha")
    new_server("beta", "--system")
    assert (user / "server" / "alpha.yaml").is_file()
    assert (system / "server" / "beta.yaml").is_file()
    assert [p.stem for p in list_configs("server")] == ["alpha", "beta"]
    assert [p.stem for p in list_configs("server", system=True)] == ["beta"]
    assert [p.stem for p in list_configs("server", system=False)] == ["alpha"]
    listed = CliRunner().invoke(main, ["server", "list"]).output
    assert "alpha" in listed and "user" in listed and "beta" in listed and "system" in listed


def test_a_name_is_found_in_user_then_system(dirs: tuple[Path, Path]) -> None:
    user, system = dirs
    new_server("same", "--system")
    assert resolve_config("server", "same") == system / "server" / "same.yaml"
    new_server("same")
    assert resolve_config("server", "same") == user / "server" / "same.yaml"
    assert resolve_config("server", "same", system=True) == system / "server" / "same.yaml"
    assert resolve_config("server", "ghost") == user / "server" / "ghost.yaml"
    assert resolve_config("server", "/some/where.yaml") == Path("/some/where.yaml")


def test_every_form_of_selection(dirs: tuple[Path, Path]) -> None:
    user, _ = dirs
    new_server("alpha")
    path = user / "server" / "alpha.yaml"
    runner = CliRunner()
    for argv in (["alpha"], ["-n", "alpha"], ["--name", "alpha"], ["-c", str(path)],
                 ["--config", "alpha"], ["--user", "-n", "alpha"], []):
        result = runner.invoke(main, ["server", "files", *argv])
        assert result.exit_code == 0, (argv, result.output)
        assert str(path) in result.output
    missing = runner.invoke(main, ["server", "files", "--system", "-n", "alpha"])
    assert missing.exit_code == 78 and "not found" in missing.output
    twice = runner.invoke(main, ["server", "files", "alpha", "-n", "beta"])
    assert twice.exit_code == 2 and "name the configuration once" in twice.output
    overridden = runner.invoke(main, ["server", "files", "-n", "beta", "-c", str(path)])
    assert overridden.exit_code == 0 and str(path) in overridden.output  # vantage6's rule


def test_without_a_name_there_must_be_exactly_one(dirs: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigurationError, match="no server configuration"):
        Selection("server", None, None).path()
    new_server("alpha")
    new_server("beta")
    with pytest.raises(ConfigurationError, match=r"several server configurations \(alpha, "
                                                 r"beta\); choose one with -n/--name"):
        Selection("server", None, None).path()
    result = CliRunner().invoke(main, ["server", "files"])
    assert result.exit_code == 78 and "choose one with -n/--name" in result.output


def test_node_new_and_start_take_vantage6_options(dirs: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    _, system = dirs
    result = CliRunner().invoke(main, [
        "node", "new", "-n", "site", "--system", "--api-key", "k", "--server-url", "http://x",
        "--runtime", "process", "--task-dir", str(tmp_path / "tasks")])
    assert result.exit_code == 0, result.output
    written = system / "node" / "site.yaml"
    assert yaml.safe_load(written.read_text())["api_key"] == "k"
    files = CliRunner().invoke(main, ["node", "files", "-n", "site", "--system"])
    assert files.exit_code == 0 and str(tmp_path / "tasks") in files.output
