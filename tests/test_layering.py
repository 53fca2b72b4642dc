"""Dependencies point one way: core modules and algorithm-side code stay light.

Each check imports a package in a fresh interpreter and inspects ``sys.modules``, so a
stray import anywhere below it is caught, not only direct ones.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["falcon", "gunicorn", "docker", "v6lib.server", "v6lib.node"]


def _modules_after_import(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return set(json.loads(out))


@pytest.mark.parametrize(
    "module",
    ["v6lib.errors", "v6lib.schemas", "v6lib.crypto", "v6lib.serialization",
     "v6lib.wrappers", "v6lib.mock", "v6lib.client.algorithm_client"],
)
def test_light_modules_do_not_pull_in_server_or_docker(module: str) -> None:
    loaded = _modules_after_import(module)
    assert not [name for name in HEAVY if name in loaded]


@pytest.mark.parametrize("module", ["v6lib.errors", "v6lib.schemas", "v6lib.serialization"])
def test_core_does_not_import_edges(module: str) -> None:
    loaded = _modules_after_import(module)
    edges = ("v6lib.client", "v6lib.mock", "v6lib.wrappers", "v6lib.cli")
    assert not [name for name in loaded if name.startswith(edges)]


def test_server_and_node_packages_are_empty_on_purpose() -> None:
    loaded = _modules_after_import("v6lib.server")
    assert "falcon" not in loaded and "sqlalchemy" not in loaded
    assert "docker" not in _modules_after_import("v6lib.node")
