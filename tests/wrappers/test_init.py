"""The public names of the algorithm-side packages (lazy ones too) are exactly their
``__all__``."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["v6lib.wrappers", "v6lib.wrappers.sources"])
def test_all_imports_are_exported(package: str) -> None:
    module = importlib.import_module(package)
    public = {name for name in dir(module) if not name.startswith("_")
              and not isinstance(getattr(module, name), type(module))
              and name != "annotations"}
    assert public == set(module.__all__)


def test_vantage6_style_names() -> None:
    import v6lib.wrappers as w

    assert w.docker_wrapper is w.wrap_algorithm
    assert w.AlgorithmClient.__module__ == "v6lib.client.algorithm_client"
