"""Run the documentation's ```` ```console test-home ```` blocks in a throw-away home directory.

These are the commands that only write files (``v6 server new``, ``v6 node new``,
``v6 algorithm new``): each page's blocks run in page order through ``bash`` (so ``~`` and
``"$API_KEY"`` expand as they would for the reader) with ``HOME`` pointing at a fresh
directory, and what they wrote must then work: configuration files load with the same
loaders the server and node use, and a generated algorithm package passes its own tests
and has a Dockerfile like ``examples/average``'s.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.test_docs import Block, blocks
from tests.docs.test_samples import check_dockerfile

API_KEY = "docs-placeholder-api-key"


def _home_pages() -> list[Path]:
    return sorted({b.page for b in blocks() if b.language == "console" and b.marker == "test-home"})


def _commands(block: Block) -> list[str]:
    text = block.code.replace("\\\n", " ")
    return [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("$ ")]


def _environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("V6_", "XDG_"))}
    env.update(HOME=str(home), API_KEY=API_KEY,
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    return env


def _check_configs(home: Path) -> list[Path]:
    from v6lib.config import load_node_config, load_server_config

    written = []
    for kind, loader in [("node", load_node_config), ("server", load_server_config)]:
        for path in sorted((home / ".config" / "v6lib" / kind).glob("*.yaml")):
            config = loader(path)
            assert config.name == path.stem, f"{path}: name {config.name!r}"
            if kind == "node":
                assert config.api_key.get_secret_value() == API_KEY, f"{path}: api_key"
            written.append(path)
    return written


def _check_packages(home: Path) -> list[Path]:
    packages = sorted(p.parent for p in home.glob("src/*/pyproject.toml"))
    for package in packages:
        check_dockerfile((package / "Dockerfile").read_text(encoding="utf-8"))
        (package / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n",
                                            encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-c", str(package / "pytest.ini"), "--rootdir", str(package)],
            cwd=package, capture_output=True, text=True, timeout=240, check=False,
            env={**_environment(home), "PYTHONPATH": str(package)})
        assert done.returncode == 0, f"{package.name}: its tests fail\n{done.stdout}{done.stderr}"
        assert " passed" in done.stdout, done.stdout
    return packages


@pytest.mark.parametrize("page", _home_pages(), ids=lambda p: p.name)
def test_home_commands(page: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # The import command reads the page's own import-file sample.
    for block in blocks():
        if block.page == page and block.language == "yaml" and block.marker == "server-import":
            (home / "entities.yaml").write_text(block.code, encoding="utf-8")
    ran = 0
    for block in blocks():
        if block.page != page or block.language != "console" or block.marker != "test-home":
            continue
        for command in _commands(block):
            done = subprocess.run(["bash", "-c", command], cwd=home, env=_environment(home),
                                  capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, f"{block.where}: {command}\n{done.stdout}{done.stderr}"
            ran += 1
    assert ran, f"{page.name}: no commands in its console test-home blocks"
    produced = _check_configs(home) + _check_packages(home)
    assert produced, f"{page.name}: the commands wrote no configuration file or package"


def test_the_home_marker_is_used() -> None:
    assert _home_pages(), "no ```console test-home blocks found in docs/"
