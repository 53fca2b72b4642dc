"""Bake the algorithm template and run the baked project's own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[2] / "cookiecutter-algorithm"


def _bake(tmp_path: Path, **context: str) -> Path:
    # Replay files go to a throwaway folder, not the user's home.
    scratch = tmp_path.parent / f"{tmp_path.name}-cookiecutter"
    config = {"replay_dir": str(scratch / "replay"), "cookiecutters_dir": str(scratch)}
    return Path(
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            output_dir=str(tmp_path),
            extra_context=context,
            default_config=config,
        )
    )


def test_baked_project_tests_pass(tmp_path: Path) -> None:
    project = _bake(tmp_path, algorithm_name="Heart rate", author="Test Author")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # The baked project runs against this checkout's v6lib, whatever the venv installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TEMPLATE.parent),
                                                      env.get("PYTHONPATH")]))

    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "5 passed" in completed.stdout


def test_baked_project_layout(tmp_path: Path) -> None:
    project = _bake(tmp_path, algorithm_name="Heart rate", author="Test Author")

    assert project.name == "heart_rate"
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [
        ".v6-template.json",  # the answers, for `v6 algorithm update`
        "Dockerfile",
        "README.md",
        "heart_rate/__init__.py",
        "heart_rate/central.py",
        "heart_rate/partial.py",
        "pyproject.toml",
        "tests/conftest.py",
        "tests/test_heart_rate.py",
    ]
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "heart-rate"' in pyproject and 'name = "Test Author"' in pyproject
    dockerfile = (project / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "ARG BASE_IMAGE=v6lib-base:latest" in dockerfile
    assert "FROM ${BASE_IMAGE}" in dockerfile  # `v6 algorithm build --base-image` sets it
    assert "{{" not in "".join((project / f).read_text() for f in files)
    answers = json.loads((project / ".v6-template.json").read_text())["answers"]
    assert answers["algorithm_name"] == "Heart rate" and answers["package_name"] == "heart_rate"
    assert not any(key.startswith("_") for key in answers)


@pytest.mark.parametrize("package_name", ["2fast", "my-algo", "class", "v6lib"])
def test_invalid_package_name_is_refused(tmp_path: Path, package_name: str) -> None:
    with pytest.raises(FailedHookException):
        _bake(tmp_path, package_name=package_name)

    assert list(tmp_path.iterdir()) == []
