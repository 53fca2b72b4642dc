"""``python -m v6lib.image``: the steps .ci/images.sh runs."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "v6lib.image", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_pins_prints_the_core_dependencies_at_this_environment_s_versions() -> None:
    done = _run("pins", str(ROOT / "pyproject.toml"))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert f"pandas=={metadata.version('pandas')}" in lines
    assert f"numpy=={metadata.version('numpy')}" in lines
    assert not any(line.startswith(("falcon", "v6lib")) for line in lines)


def test_a_wrong_call_prints_the_usage() -> None:
    done = _run("unpack")

    assert done.returncode == 2 and "usage: python -m v6lib.image" in done.stderr
