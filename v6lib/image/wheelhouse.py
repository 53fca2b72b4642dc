"""Wheels for an image, fetched on the host: images are built without a package index.

Containers cannot reach an index (the build machines and the nodes have none), so wheels
for the image's platform (CPython 3.11, manylinux x86_64, Debian bookworm) are put in a
folder on the host and installed from there with ``--no-index``. pip does not count a
manylinux_2_36 platform as accepting older manylinux_2_x wheels, so each tag current
wheels use is listed (pandas 3, numpy 2.3+, pyarrow 20+ ship manylinux_2_24..2_28 only);
bookworm's glibc 2.36 runs them all.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import v6lib
from v6lib.errors import ConfigurationError

__all__ = ["PLATFORM_ARGS", "build_wheel", "download", "source_checkout"]

PLATFORM_ARGS = (
    "--only-binary=:all:", "--implementation", "cp", "--python-version", "3.11",
    "--abi", "cp311",
    "--platform", "manylinux_2_36_x86_64", "--platform", "manylinux_2_28_x86_64",
    "--platform", "manylinux_2_27_x86_64", "--platform", "manylinux_2_24_x86_64",
    "--platform", "manylinux2014_x86_64",
)


def _pip(args: Sequence[str], python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, check=False)


def download(requirements: Sequence[str], dest: Path, *, find_links: Sequence[Path] = (),
             no_deps: bool = False, python: str = sys.executable) -> None:
    """Put wheels for ``requirements`` (and their dependencies) for the image into ``dest``.

    First without an index, from ``dest`` and ``find_links`` alone (a second build, or a
    machine without network, needs nothing else); then from the index, which pip's
    cache spares most of the download. ``no_deps`` when ``requirements`` already name
    every distribution needed (a lock).

    Raises:
        ConfigurationError: neither way found every wheel (pip's last lines say which).
    """
    if not requirements:
        return
    dest.mkdir(parents=True, exist_ok=True)
    links = [arg for path in (dest, *find_links) for arg in ("--find-links", str(path))]
    common = ["download", "--dest", str(dest), *PLATFORM_ARGS, *links,
              *(["--no-deps"] if no_deps else []), *requirements]
    if _pip([*common, "--no-index"], python).returncode == 0:
        return
    online = _pip(common, python)
    if online.returncode != 0:
        tail = "\n".join((online.stdout + online.stderr).strip().splitlines()[-8:])
        raise ConfigurationError(
            f"could not get wheels for the image ({', '.join(requirements)}) from "
            f"{', '.join(map(str, find_links)) or 'the local wheels'} nor from the package "
            f"index:\n{tail}")


def source_checkout() -> Path | None:
    """The source tree this v6lib is imported from (editable install, checkout), if any."""
    root = Path(v6lib.__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "v6lib"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def build_wheel(project: Path, dest: Path, *, python: str = sys.executable) -> Path:
    """Build the wheel of the v6lib source tree ``project`` (no dependencies) into ``dest``.

    Built from a copy of what the wheel takes (the package, the algorithm template it
    ships, the project files), so the tree gets nothing written into it; the build
    backend (hatchling) comes from the package index, in pip's isolated build.

    Raises:
        ConfigurationError: the build failed (pip's last lines say why).
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="v6-wheel-") as scratch:
        source, out = Path(scratch) / "source", Path(scratch) / "out"
        for folder in ("v6lib", "cookiecutter-algorithm"):
            shutil.copytree(project / folder, source / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (project / name).is_file():
                shutil.copy2(project / name, source / name)
        built = _pip(["wheel", "--no-deps", "--wheel-dir", str(out), str(source)], python)
        if built.returncode != 0:
            tail = "\n".join((built.stdout + built.stderr).strip().splitlines()[-8:])
            raise ConfigurationError(f"could not build a wheel of {project}:\n{tail}")
        [wheel] = out.glob("*.whl")
        return Path(shutil.copy2(wheel, dest / wheel.name))
