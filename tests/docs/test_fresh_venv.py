"""The algorithm developer's first steps exactly as docs/algorithm-developer.md gives
them (its ```` ```console test-fresh-venv ```` block), in a fresh virtual environment.

The wheel is built from this checkout; the block's commands run as one ``bash`` script
(``. activate`` and ``cd`` carry over, as in the reader's shell) with ``HOME`` in a
throw-away directory. ``pip install "<wheel>[algorithm]"`` is a real install: every
dependency comes from the package index, none from the test's environment, so a missing
or wrong dependency in ``pyproject.toml`` fails here. The only edit to the commands is
the wheel's directory (``/path/to/``); its file name must be the one the build made, so
the page cannot name a stale version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.docs.test_docs import blocks

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "algorithm-developer.md"
PLACEHOLDER = "/path/to/"

pytestmark = pytest.mark.slow


def _script() -> str:
    [block] = [b for b in blocks() if b.page == PAGE and b.marker == "test-fresh-venv"]
    text = block.code.replace("\\\n", " ")
    commands = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("$ ")]
    assert commands, f"{block.where}: no commands"
    return "\n".join(commands)


def _environment(home: Path) -> dict[str, str]:
    """The reader's shell: no virtual environment active, nothing of this checkout."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "V6_", "PYTHON", "VIRTUAL_ENV", "XDG_"))}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p != venv_bin)
    env["HOME"] = str(home)
    # byte-compiling ~40 packages at install is most of the install's time and not what
    # is tested; the commands stay the page's
    env["PIP_NO_COMPILE"] = "1"
    return env


def _built_wheel(where: Path, env: dict[str, str]) -> Path:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel",
                           "--no-deps", "-q", "-w", str(where), str(ROOT)],
                          env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    [wheel] = where.glob("v6lib-*.whl")
    with zipfile.ZipFile(wheel) as archive:  # the web UI ships too: no Node.js at install
        shipped = set(archive.namelist())
    assert {f"v6lib/server/ui/static/{name}" for name in
            ("index.html", "app.js", "decode.js", "qrcode.mjs", "arrow.mjs")} <= shipped
    return wheel


def test_the_pages_install_and_first_algorithm_work_in_a_fresh_venv(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = _environment(home)
    wheel = _built_wheel(tmp_path / "dist", env)
    script = _script()
    assert f"{PLACEHOLDER}{wheel.name}" in script, \
        f"the page installs another wheel than {wheel.name}"
    done = subprocess.run(["bash", "-e", "-c", script.replace(PLACEHOLDER, f"{wheel.parent}/")],
                          cwd=home, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, f"{script}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout[-2000:]

    venv = home / "venvs" / "algorithms"
    python = venv / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", "import v6lib, pandas, pyarrow, sqlalchemy, rdflib, openpyxl, "
         "cookiecutter, v6lib.cli.algorithm as a; print(v6lib.__file__); "
         "print(pandas.__file__); print(a.find_template())"],
        cwd=home, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert probe.returncode == 0, probe.stderr
    v6lib_file, pandas_file, template = probe.stdout.split()
    # v6lib and its dependencies are the venv's own, not this checkout or its environment
    for found in (v6lib_file, pandas_file, template):
        assert found.startswith(str(venv)), found
    assert not [p for p in venv.rglob("*.pth") if str(ROOT) in p.read_text() or
                sys.prefix in p.read_text()]
    project = home / "column_statistics"
    assert (project / "Dockerfile").is_file()
