"""Fixtures for the MockNetwork tests: a test algorithm module and three small sites."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

_ALGORITHMS = Path(__file__).with_name("mock_algorithms.py")
_MODULE_NAME = "v6lib_mock_test_algorithms"


def _load_algorithms() -> ModuleType:
    if _MODULE_NAME in sys.modules:
        return sys.modules[_MODULE_NAME]
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, _ALGORITHMS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def algorithms() -> ModuleType:
    """The algorithm package the tests hand to MockNetwork."""
    return _load_algorithms()


@pytest.fixture
def sites() -> list[pd.DataFrame]:
    """Three organizations' frames with disjoint ids (org n has ids n*100 + i)."""
    return [
        pd.DataFrame(
            {
                "id": [100 * n + i for i in range(rows)],
                "value": [float(n * 10 + i) for i in range(rows)],
            }
        )
        for n, rows in ((1, 3), (2, 4), (3, 5))
    ]


@pytest.fixture
def site_files(tmp_path: Path, sites: list[pd.DataFrame]) -> list[Path]:
    """The three sites as CSV files ``org1.csv`` .. ``org3.csv`` in one folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    paths = [folder / f"org{n}.csv" for n in (1, 2, 3)]
    for frame, path in zip(sites, paths, strict=True):
        frame.to_csv(path, index=False)
    return paths
