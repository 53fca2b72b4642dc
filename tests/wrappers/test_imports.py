"""Importing the algorithm-side package stays light: no server stack, no data drivers."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ["falcon", "gunicorn", "docker", "sqlalchemy", "rdflib", "openpyxl",
             "v6lib.server", "v6lib.node"]


def _loaded_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, timeout=120)
    return set(json.loads(done.stdout))


def test_importing_wrappers_pulls_in_no_server_or_driver() -> None:
    loaded = _loaded_after("import v6lib.wrappers, v6lib.wrappers.sources")
    assert [name for name in FORBIDDEN if name in loaded] == []
    assert "v6lib.wrappers.sources.sql" not in loaded


def test_drivers_load_only_with_their_source() -> None:
    loaded = _loaded_after("from v6lib.wrappers.sources import get_source; get_source('csv')")
    assert "sqlalchemy" not in loaded and "rdflib" not in loaded
    assert "v6lib.wrappers.sources.csv" in loaded


def test_the_entrypoint_does_not_load_the_client_package() -> None:
    # ``python -m v6lib.wrappers`` for a partial function needs no client: importing
    # v6lib.client runs its __init__ (the researcher's client and all resource schemas).
    loaded = _loaded_after("import v6lib.wrappers.__main__")
    assert sorted(name for name in loaded if name.startswith("v6lib.client")) == []


def test_algorithm_client_is_still_exported_on_first_use() -> None:
    code = ("import sys, v6lib.wrappers as w; assert 'v6lib.client' not in sys.modules; "
            "from v6lib.client.algorithm_client import AlgorithmClient; "
            "assert w.AlgorithmClient is AlgorithmClient; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
