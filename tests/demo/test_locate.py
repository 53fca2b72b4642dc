"""Finding the average example for the node subprocesses of the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

import v6lib
from v6lib.demo import locate
from v6lib.errors import ConfigurationError


def test_source_checkout_is_found() -> None:
    path = locate.average_example_path()
    assert path is not None
    assert (path / "v6_average" / "__init__.py").is_file()


def test_missing_example_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setattr(v6lib, "__file__", str(tmp_path / "v6lib" / "__init__.py"))
    monkeypatch.setattr(locate.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigurationError, match="pip install examples/average"):
        locate.average_example_path()
