"""The upstream vantage6 client in a virtual environment of its own.

vantage6's client pins its own dependency versions (requests, PyJWT, cryptography, ...),
so it cannot share v6lib's environment: the session creates a venv once per run and
installs ``vantage6-client`` from the package index. ``V6_UPSTREAM_VENV`` names an
existing venv to use instead (a developer's machine, to skip the install).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UPSTREAM_CLIENT = "vantage6-client==4.15.2"
#: the interpreters tried for the venv, best first (the client needs Python >= 3.10)
INTERPRETERS = ("python3.11", "python3.12", "python3.10")


def _interpreter() -> str:
    for name in INTERPRETERS:
        found = shutil.which(name)
        if found:
            return found
    return sys.executable


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.fixture(scope="session")
def upstream_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a venv where ``import vantage6.client`` works."""
    given = os.environ.get("V6_UPSTREAM_VENV")
    if given:
        return _venv_python(Path(given))
    venv = tmp_path_factory.mktemp("upstream") / "venv"
    subprocess.run([_interpreter(), "-m", "venv", str(venv)], check=True, timeout=120)
    python = _venv_python(venv)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", UPSTREAM_CLIENT],
                   check=True, timeout=600)
    return python
