"""``v6 algorithm new`` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from v6lib.cli import main
from v6lib.cli.algorithm import TEMPLATE_ENV, find_template
from v6lib.errors import ConfigurationError

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "cookiecutter-algorithm"


@pytest.fixture(autouse=True)
def _cookiecutter_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep cookiecutter's replay files out of the user's home."""
    scratch = tmp_path_factory.mktemp("cookiecutter")
    config = scratch / "config.yaml"
    config.write_text(f"replay_dir: {scratch / 'replay'}\ncookiecutters_dir: {scratch}\n")
    monkeypatch.setenv("COOKIECUTTER_CONFIG", str(config))


def test_new_creates_a_package_named_after_the_algorithm(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["algorithm", "new", "--name", "Blood pressure", "-d", str(tmp_path), "--no-input"]
    )

    assert result.exit_code == 0, result.output
    project = tmp_path / "blood_pressure"
    assert f"Created {project}" in result.output
    assert (project / "blood_pressure" / "partial.py").is_file()
    assert (
        "from blood_pressure.central import"
        in (project / "blood_pressure" / "__init__.py").read_text()
    )
    assert 'name = "blood-pressure"' in (project / "pyproject.toml").read_text()
    assert "ENV PKG_NAME=blood_pressure" in (project / "Dockerfile").read_text()


def test_name_that_is_no_python_identifier_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["algorithm", "new", "--name", "3 sites", "-d", str(tmp_path), "--no-input"]
    )

    assert result.exit_code != 0
    assert "package name must be a valid Python identifier" in result.output
    assert not (tmp_path / "3_sites").exists()


def test_existing_project_is_not_overwritten(tmp_path: Path) -> None:
    args = ["algorithm", "new", "--name", "Twice", "-d", str(tmp_path), "--no-input"]
    assert CliRunner().invoke(main, args).exit_code == 0

    again = CliRunner().invoke(main, args)

    assert again.exit_code != 0
    assert "OutputDirExistsException" in again.output


def test_template_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEMPLATE_ENV, str(REPO_TEMPLATE))
    assert find_template() == REPO_TEMPLATE

    monkeypatch.setenv(TEMPLATE_ENV, str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"no cookiecutter\.json"):
        find_template()
    result = CliRunner().invoke(main, ["algorithm", "new", "--no-input", "-d", str(tmp_path)])
    assert result.exit_code != 0
    assert f"{TEMPLATE_ENV}={tmp_path} is not a cookiecutter template" in result.output


def test_template_is_found_in_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEMPLATE_ENV, raising=False)

    assert find_template() == REPO_TEMPLATE
