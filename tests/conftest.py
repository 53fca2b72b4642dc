"""Fixtures for every test: each test gets its own per-user data directory.

Clients pin organization keys per server in the user's data directory (see
:mod:`v6lib.trust`); tests start many servers on reused ports with fresh keys, so sharing
one directory between tests would make them depend on each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module", autouse=True)
def _module_user_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same for module-scoped fixtures: they build their clients before any test's
    own directory exists, and would otherwise pin keys in the real user's one (where a
    later run, on a reused port, finds another key pinned)."""
    data = tmp_path_factory.mktemp("xdg-data-module")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(data))
        yield data


@pytest.fixture(autouse=True)
def _own_user_data_dir(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path_factory.mktemp("xdg-data")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    return data
