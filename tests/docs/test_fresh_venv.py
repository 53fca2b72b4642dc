"""The algorithm developer's loop exactly as docs/algorithm-developer.md gives it, in a
fresh virtual environment: install, ``v6 algorithm new`` and the mock tests (its
```` ```console test-fresh-venv ```` block), then a dependency and a SQL source, the mock
tests again, ``v6 algorithm build`` and a run on a local Docker federation whose result
must be the MockNetwork's (the ``fresh-venv-module`` and ``fresh-venv-loop`` blocks).

The wheel is built from this checkout; each console block's commands run as one ``bash``
script (``. activate`` and ``cd`` carry over, as in the reader's shell) with ``HOME`` in
a throw-away directory. ``pip install "<wheel>[algorithm]"`` is a real install: every
dependency comes from the package index, none from the test's environment, so a missing
or wrong dependency in ``pyproject.toml`` fails here, and the image gets the versions
that environment resolved, whatever the base image holds. The only edit to the commands
is the wheel's directory (``/path/to/``); its file name must be the one the build made,
so the page cannot name a stale version. The install is done once for the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.test_docs import Block, blocks

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "algorithm-developer.md"
PLACEHOLDER = "/path/to/"
PACKAGE = "column_statistics"
LOOP_IMAGE = "column-statistics:dev"  # the tag the page's loop builds

pytestmark = pytest.mark.slow

# The developer's own mock test of the page's SQL function.
TABLES_TEST = '''"""The tables by sex on a MockNetwork agree with pandas on each SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import column_statistics
from v6lib.mock import MockNetwork

QUERY = "SELECT * FROM patients"


def _sites(folder: Path) -> list[dict[str, str]]:
    frames = [pd.DataFrame({"sex": ["F", "M", "F"], "age": [30.0, 40.0, None]}),
              pd.DataFrame({"sex": ["M", "M"], "age": [50.0, 70.0]})]
    sites = []
    for number, frame in enumerate(frames):
        path = folder / f"site{number}.sqlite"
        with sqlite3.connect(path) as connection:
            frame.to_sql("patients", connection, index=False)
        sites.append({"uri": str(path), "type": "sql", "query": QUERY})
    return sites


def test_tables_by_sex(mock_network: Callable[..., MockNetwork], tmp_path: Path) -> None:
    network = mock_network(column_statistics, _sites(tmp_path))

    [result] = network.run("central_tables", kwargs={"column": "age"})

    assert result["table"]["count"].tolist() == [1, 1, 2]
    assert result["table"]["total"].tolist() == [30.0, 40.0, 120.0]
    assert "(2, 0)  M" in result["text"]

'''


def _page_blocks(marker: str) -> list[Block]:
    found = [b for b in blocks() if b.page == PAGE and b.marker == marker]
    assert found, f"{PAGE.name}: no block marked {marker}"
    return found


def _commands(block: Block) -> str:
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
    # byte-compiling ~50 packages at install is most of the install's time and not what
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


@dataclass(frozen=True)
class FreshVenv:
    """The reader's home after the page's first block, and that block's output."""

    home: Path
    env: dict[str, str]
    script: str
    installed: subprocess.CompletedProcess[str]

    @property
    def venv(self) -> Path:
        return self.home / "venvs" / "algorithms"

    @property
    def project(self) -> Path:
        return self.home / PACKAGE

    def python(self, code: str, *, cwd: Path | None = None, timeout: float = 120
               ) -> subprocess.CompletedProcess[str]:
        """``code`` run by the fresh venv's python (as after ``. activate``)."""
        return subprocess.run([str(self.venv / "bin" / "python"), "-c", code],
                              cwd=cwd or self.home, env=self.activated(),
                              capture_output=True, text=True, timeout=timeout, check=False)

    def activated(self) -> dict[str, str]:
        return {**self.env, "VIRTUAL_ENV": str(self.venv),
                "PATH": os.pathsep.join([str(self.venv / "bin"), self.env["PATH"]])}


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    """Install and first algorithm as the page's ``test-fresh-venv`` block gives them."""
    where = tmp_path_factory.mktemp("fresh-venv")
    home = where / "home"
    home.mkdir()
    env = _environment(home)
    wheel = _built_wheel(where / "dist", env)
    [block] = _page_blocks("test-fresh-venv")
    script = _commands(block)
    assert f"{PLACEHOLDER}{wheel.name}" in script, \
        f"the page installs another wheel than {wheel.name}"
    done = subprocess.run(["bash", "-e", "-c", script.replace(PLACEHOLDER, f"{wheel.parent}/")],
                          cwd=home, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    return FreshVenv(home, env, script, done)


def test_the_pages_install_and_first_algorithm_work_in_a_fresh_venv(
        fresh_venv: FreshVenv) -> None:
    done = fresh_venv.installed
    assert done.returncode == 0, \
        f"{fresh_venv.script}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout[-2000:]

    venv = fresh_venv.venv
    probe = fresh_venv.python(
        "import v6lib, pandas, pyarrow, sqlalchemy, rdflib, openpyxl, "
        "cookiecutter, v6lib.cli.algorithm as a; print(v6lib.__file__); "
        "print(pandas.__file__); print(a.find_template())")
    assert probe.returncode == 0, probe.stderr
    v6lib_file, pandas_file, template = probe.stdout.split()
    # v6lib and its dependencies are the venv's own, not this checkout or its environment
    for found in (v6lib_file, pandas_file, template):
        assert found.startswith(str(venv)), found
    assert not [p for p in venv.rglob("*.pth") if str(ROOT) in p.read_text() or
                sys.prefix in p.read_text()]
    assert (fresh_venv.project / "Dockerfile").is_file()


# ---------------------------------------------------------------- the rest of the loop
def _add_dependency_and_sql_source(project: Path) -> None:
    """What the page tells the reader to do by hand before the loop's blocks."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    before = 'dependencies = ["v6lib", "pandas>=2.1"]'
    assert before in text
    pyproject.write_text(text.replace(before, 'dependencies = ["v6lib", "pandas>=2.1", '
                                              '"tabulate"]'))
    [module] = _page_blocks("fresh-venv-module")
    (project / PACKAGE / "tables.py").write_text(module.code)
    with (project / PACKAGE / "__init__.py").open("a") as handle:
        handle.write(f"from {PACKAGE}.tables import central_tables as central_tables\n"
                     f"from {PACKAGE}.tables import partial_tables as partial_tables\n")
    (project / "tests" / "test_tables.py").write_text(TABLES_TEST)


def _run_block(fresh: FreshVenv, block: Block) -> subprocess.CompletedProcess[str]:
    """A loop block in the package's folder with the environment active."""
    if block.language == "console":
        command = ["bash", "-e", "-c", _commands(block)]
    else:
        assert block.language == "python", block.where
        command = [str(fresh.venv / "bin" / "python"), "-c", block.code]
    done = subprocess.run(command, cwd=fresh.project, env=fresh.activated(),
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"{block.where}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def loop(fresh_venv: FreshVenv) -> Iterator[list[subprocess.CompletedProcess[str]]]:
    """The page's loop blocks, run in order after the reader's edits; the image removed."""
    assert fresh_venv.installed.returncode == 0, fresh_venv.installed.stderr[-4000:]
    _add_dependency_and_sql_source(fresh_venv.project)
    try:
        yield [_run_block(fresh_venv, block) for block in _page_blocks("fresh-venv-loop")]
    finally:
        subprocess.run(["docker", "image", "rm", "--force", LOOP_IMAGE], capture_output=True,
                       check=False, timeout=120)


def _venv_versions(fresh: FreshVenv) -> dict[str, str]:
    done = fresh.python("import json, importlib.metadata as m; print(json.dumps({n: "
                        "m.version(n) for n in ('v6lib', 'pandas', 'numpy', 'pyarrow', "
                        "'tabulate')}))")
    assert done.returncode == 0, done.stderr
    found: dict[str, str] = json.loads(done.stdout)
    return found


@pytest.mark.docker
@pytest.mark.integration
def test_the_pages_loop_gives_on_docker_what_the_mock_gives_in_a_fresh_venv(
        fresh_venv: FreshVenv, loop: list[subprocess.CompletedProcess[str]]) -> None:
    *_, commands, compared = loop
    versions = _venv_versions(fresh_venv)
    # the mock tests, the template's and the developer's SQL ones, passed in the venv
    assert "6 passed" in commands.stdout and "failed" not in commands.stdout, commands.stdout
    # the image holds the venv's versions (its own lock, fetched from the index if the
    # base image has others): said by the build, written to the lock and the labels
    lock = (fresh_venv.project / "v6-image.lock").read_text()
    assert f"tabulate=={versions['tabulate']}\n" in lock
    labels = subprocess.run(["docker", "image", "inspect", "--format",
                             "{{json .Config.Labels}}", LOOP_IMAGE],
                            capture_output=True, text=True, check=True, timeout=60)
    for package in ("v6lib", "pandas", "numpy", "pyarrow"):
        assert json.loads(labels.stdout)[f"org.v6lib.version.{package}"] == versions[package]
        assert f"{package} {versions[package]}" in commands.stderr
    assert "WARNING" not in commands.stderr
    # each organization's table was printed by `v6 algorithm run`; the last block
    # asserted exact equality with the MockNetwork (frame and text) and printed the text
    assert "organization 2:" in commands.stdout.splitlines()
    assert "(4, 1)  M" in compared.stdout and "total" in compared.stdout
    print(commands.stderr[-3000:], compared.stdout, sep="\n")
