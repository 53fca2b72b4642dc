"""``v6 algorithm new`` through click's CliRunner."""

from __future__ import annotations

import json
import shutil
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


@pytest.mark.parametrize(("name", "rule"), [
    ("2fast", "not start with a digit"),
    ("3 sites", "letters, digits and underscores"),
    ("class", "not be a Python keyword"),
    ("Tests", "would hide the package of that name"),
])
def test_bad_name_is_refused_in_one_line(tmp_path: Path, name: str, rule: str) -> None:
    result = CliRunner().invoke(
        main, ["algorithm", "new", "--name", name, "-d", str(tmp_path), "--no-input"]
    )

    assert result.exit_code == 64
    assert result.output.count("\n") == 1 and result.output.startswith("error: package name")
    assert rule in result.output and "package_name=" not in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_bad_name_typed_at_the_prompt_is_refused(tmp_path: Path) -> None:
    answers = "2fast\n\n\n\n\n"  # the name, then the defaults of the other questions
    result = CliRunner().invoke(main, ["algorithm", "new", "-d", str(tmp_path)], input=answers)

    assert result.exit_code == 64
    assert "'2fast' is not a valid Python package name" in result.output
    assert list(tmp_path.iterdir()) == []


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


def test_missing_template_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import v6lib

    monkeypatch.delenv(TEMPLATE_ENV, raising=False)
    (tmp_path / "v6lib").mkdir()
    monkeypatch.setattr(v6lib, "__file__", str(tmp_path / "v6lib" / "__init__.py"))

    with pytest.raises(ConfigurationError, match="install v6lib from its wheel, or set"):
        find_template()


def test_create_is_vantage6s_name_for_new(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["algorithm", "create", "-n", "Blood pressure", "--dir", str(tmp_path),
               "--no-input"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "blood_pressure" / ".v6-template.json").read_text())
    assert record["answers"]["algorithm_name"] == "Blood pressure"
    assert "blood_pressure/partial.py" in record["files"]
    refused = CliRunner().invoke(main, ["algorithm", "create", "--major-version", "4",
                                        "--no-input", "-d", str(tmp_path / "x")])
    assert refused.exit_code == 64 and "--major-version: not supported" in refused.output


def _template_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    template = tmp_path / "template"
    shutil.copytree(REPO_TEMPLATE, template)
    monkeypatch.setenv(TEMPLATE_ENV, str(template))
    return template


def test_update_follows_the_template_and_keeps_your_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = _template_copy(tmp_path, monkeypatch)
    work = tmp_path / "work"
    args = ["algorithm", "create", "-n", "Heart rate", "-d", str(work), "--no-input"]
    assert CliRunner().invoke(main, args).exit_code == 0
    project = work / "heart_rate"
    unchanged = CliRunner().invoke(main, ["algorithm", "update", "-d", str(project)])
    assert unchanged.exit_code == 0 and "already up to date" in unchanged.output
    # the owner edits the partial function; the template changes underneath
    partial = project / "heart_rate" / "partial.py"
    partial.write_text(partial.read_text() + "\n# my change\n")
    inner = template / "{{cookiecutter.package_name}}"
    readme = inner / "README.md"
    readme.write_text(readme.read_text() + "\nNew template section.\n")
    (inner / "{{cookiecutter.package_name}}" / "partial.py").write_text(
        "# the template's new partial for {{ cookiecutter.package_name }}\n")
    (inner / "CHANGELOG.md").write_text("# {{ cookiecutter.algorithm_name }}\n")
    (inner / "tests" / "conftest.py").unlink()

    result = CliRunner().invoke(main, ["algorithm", "update", "-d", str(project)])

    assert result.exit_code == 0, result.output
    assert "New template section." in (project / "README.md").read_text()
    assert (project / "CHANGELOG.md").read_text() == "# Heart rate\n"
    assert not (project / "tests" / "conftest.py").exists()
    assert partial.read_text().endswith("# my change\n")  # yours is kept ...
    assert (project / "heart_rate" / "partial.py.update").read_text() == (
        "# the template's new partial for heart_rate\n")  # ... the template's beside it
    for expected in ("added    CHANGELOG.md", "updated  README.md",
                     "removed  tests/conftest.py", "conflict heart_rate/partial.py"):
        assert expected in result.output
    again = CliRunner().invoke(main, ["algorithm", "update", "-d", str(project)])
    assert "already up to date" in again.output  # the conflict is not reported twice
    forced = CliRunner().invoke(main, ["algorithm", "update", "-d", str(project),
                                       "--overwrite", "--change-answers"],
                                input="Heart rate\n\n\nNew description\nMe\n")
    assert forced.exit_code == 0, forced.output
    assert "New description" in (project / "pyproject.toml").read_text()
    assert partial.read_text() == "# the template's new partial for heart_rate\n"


def test_update_needs_the_record(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["algorithm", "update", "-d", str(tmp_path)])
    assert result.exit_code == 78 and "has no .v6-template.json" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--kwargs", "[1]"], "must be a JSON object"),
    (["--kwargs", "{"], "not JSON"),
    (["--organizations", "north"], "'first', 'all' or positions"),
])
def test_run_refuses_bad_task_options_before_starting_anything(
        tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["algorithm", "run", "--image", "x:1", "--method", "m",
                                       *args])

    assert result.exit_code == 2 and message in result.output


def test_run_without_image_names_it_from_the_package(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["algorithm", "run", "--path", str(tmp_path),
                                       "--method", "m"])

    assert result.exit_code == 2 and "has no pyproject.toml" in result.output


def test_build_outside_a_package_says_where_to_run_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["algorithm", "build", "--path", str(tmp_path)])

    assert result.exit_code != 0 and "algorithm package's folder" in result.output
