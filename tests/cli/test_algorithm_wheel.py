"""The algorithm developer's first steps from a v6lib wheel, in a fresh virtual environment.

The wheel is built from this checkout and installed without its dependencies; those come
from the test's own environment through a path file, so the test needs no package index
for them. v6lib itself, and with it the algorithm template, comes only from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(argv: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    completed = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                               text=True, timeout=240, check=False)
    assert completed.returncode == 0, f"{argv}\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


def _fresh_venv(where: Path, env: dict[str, str]) -> Path:
    """A venv that sees this environment's site-packages after its own, but not the
    checkout (plain path lines in a .pth file do not run the editable install's hook)."""
    _run([sys.executable, "-m", "venv", "--without-pip", where], where.parent, env)
    python = where / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                where.parent, env).strip()
    (Path(site) / "outer-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_new_algorithm_from_the_wheel_passes_its_tests(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "V6_", "PYTHON"))}
    env["HOME"] = str(tmp_path / "home")  # cookiecutter's replay files land there
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", ROOT], tmp_path, env)
    [wheel] = (tmp_path / "dist").glob("v6lib-*.whl")
    with zipfile.ZipFile(wheel) as archive:  # the web UI ships too: no Node.js at install
        shipped = set(archive.namelist())
    assert {f"v6lib/server/ui/static/{name}" for name in
            ("index.html", "app.js", "decode.js", "qrcode.mjs", "arrow.mjs")} <= shipped
    python = _fresh_venv(tmp_path / "venv", env)
    _run([*pip, "--python", python, "install", "--no-deps", "-q", wheel], tmp_path, env)
    work = tmp_path / "work"
    work.mkdir()

    where = _run([python, "-c", "import v6lib.cli.algorithm as a; print(a.find_template())"],
                 work, env).strip()
    assert where.startswith(str(tmp_path / "venv")) and where.endswith("_algorithm_template")
    created = _run([tmp_path / "venv" / "bin" / "v6", "algorithm", "new", "--name",
                    "Heart rate", "--no-input"], work, env)
    project = work / "heart_rate"
    assert f"Created {project}" in created
    # pip compiled the installed template's modules; none of that belongs to the package
    assert list(Path(where).rglob("__pycache__"))
    assert not list(project.rglob("__pycache__"))
    _run([*pip, "--python", python, "install", "--no-deps", "-q", "-e", project], work, env)
    tests = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    assert "5 passed" in tests
