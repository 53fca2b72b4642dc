"""A wheel made again from an installed distribution's files installs the same files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from v6lib.errors import ConfigurationError
from v6lib.image.repack import _hash, installed_wheel


def test_an_installed_wheel_is_made_again_and_installs(tmp_path: Path) -> None:
    version = metadata.version("tabulate")

    wheel = installed_wheel("tabulate", tmp_path / "wheels")

    assert wheel.name == f"tabulate-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = archive.read(f"tabulate-{version}.dist-info/RECORD").decode().splitlines()
        # every file is recorded with the hash of what the archive holds
        for line in record[:-1]:
            name, digest, size = line.rsplit(",", 2)
            data = archive.read(name)
            assert (digest, int(size)) == (_hash(data), len(data))
    assert "tabulate/__init__.py" in names
    assert not [n for n in names if n.startswith("..") or "__pycache__" in n or
                n.rsplit("/", 1)[-1] in ("INSTALLER", "REQUESTED", "direct_url.json")]
    target = tmp_path / "target"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=120, check=False)
    assert installed.returncode == 0, installed.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import tabulate; print(tabulate.__file__)"],
        cwd=tmp_path, env={"PYTHONPATH": str(target)}, capture_output=True, text=True,
        timeout=60, check=False)
    assert probe.stdout.strip() == str(target / "tabulate" / "__init__.py"), probe.stderr


def test_an_editable_install_has_no_files_to_pack(tmp_path: Path) -> None:
    # this environment's v6lib is the checkout, installed editable
    with pytest.raises(ConfigurationError, match="editable install"):
        installed_wheel("v6lib", tmp_path)


def test_a_distribution_that_is_not_installed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not installed"):
        installed_wheel("no-such-distribution-v6", tmp_path)
