"""The container entrypoint loads only what the algorithm needs (checked by module, not time).

Every algorithm run starts a fresh interpreter, so each heavy import of the entrypoint is
paid by every run: pydantic, pandas, numpy and requests must load only when the algorithm
itself needs them (pandas for @data, requests for a central function's client).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("pydantic", "pandas", "numpy", "requests", "sqlalchemy")

ALGORITHM = '''
"""Reports which heavy modules are loaded at the moment it runs."""
import sys

from v6lib.wrappers import data

HEAVY = {heavy!r}


def _loaded():
    return sorted(m for m in HEAVY if m in sys.modules)


def noop():
    return _loaded()


@data(1)
def rows(df):
    return {{"n": len(df), "loaded": _loaded()}}
'''


def _python(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_runner_loads_no_heavy_module() -> None:
    out = _python("import v6lib.wrappers.runner, sys; print(sorted(m for m in "
                  f"{HEAVY!r} if m in sys.modules))")
    assert out == "[]"


def test_importing_the_package_and_its_entrypoint_loads_no_heavy_module() -> None:
    out = _python("import v6lib.wrappers, v6lib.wrappers.__main__, sys; import json; "
                  f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    assert json.loads(out) == []


@pytest.fixture
def contract(tmp_path: Path) -> dict[str, str]:
    """The contract environment of a run of the reporting algorithm (no HOST: a partial)."""
    package = tmp_path / "pkgs" / "import_cost_algorithm"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(ALGORITHM.format(heavy=HEAVY)))
    (tmp_path / "data.csv").write_text("age\n1\n2\n")
    (tmp_path / "token").write_text("")
    env = {key: value for key, value in os.environ.items()
           if key not in ("HOST", "PORT", "PROXY_SOCKET", "USER_REQUESTED_DATABASE_LABELS")}
    env.update({
        "INPUT_FILE": str(tmp_path / "input"), "OUTPUT_FILE": str(tmp_path / "output"),
        "TOKEN_FILE": str(tmp_path / "token"), "TEMPORARY_FOLDER": str(tmp_path),
        "PKG_NAME": "import_cost_algorithm",
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "pkgs"),
                                       *filter(None, [os.environ.get("PYTHONPATH")])]),
    })
    return env


#: modules a successful partial run never needs: the pydantic TaskInput, what only a
#: failure needs (traceback), the proxy relay of network-less containers, tempfile
LIGHT_RUN_SKIPS = ("v6lib.schemas.task_input", "traceback", "socketserver", "tempfile")


def _run(env: dict[str, str], task_input: dict[str, object]) -> tuple[object, list[str]]:
    """Run ``main()`` in a fresh interpreter; its result and which of :data:`HEAVY` and
    :data:`LIGHT_RUN_SKIPS` were loaded once it returned."""
    Path(env["INPUT_FILE"]).write_text(json.dumps(task_input))
    watched = HEAVY + LIGHT_RUN_SKIPS
    code = ("import json, sys; from v6lib.wrappers.runner import main; code = main(); "
            f"print(json.dumps([code, [m for m in {watched!r} if m in sys.modules]]))")
    exit_code, loaded = json.loads(_python(code, env))
    assert exit_code == 0
    return json.loads(Path(env["OUTPUT_FILE"]).read_text()), loaded


def test_a_run_of_a_plain_function_loads_no_heavy_module(contract: dict[str, str]) -> None:
    result, loaded = _run(contract, {"method": "noop", "args": [], "kwargs": {}})
    assert result == []  # nothing heavy while the algorithm ran, nor afterwards:
    assert loaded == []


def test_a_legacy_input_is_read_without_pydantic(contract: dict[str, str]) -> None:
    result, loaded = _run(contract, {"master": False, "method": "noop",
                                     "output_format": "json"})
    assert (result, loaded) == ([], [])


def test_data_loads_pandas_but_nothing_else(contract: dict[str, str]) -> None:
    contract.update({"USER_REQUESTED_DATABASE_LABELS": "default",
                     "DEFAULT_DATABASE_URI": str(Path(contract["TEMPORARY_FOLDER"]) / "data.csv"),
                     "DEFAULT_DATABASE_TYPE": "csv"})
    result, loaded = _run(contract, {"method": "rows"})
    assert result == {"n": 2, "loaded": ["numpy", "pandas"]}
    assert "pydantic" not in loaded and "requests" not in loaded
