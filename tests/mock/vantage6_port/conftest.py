"""Make the ported algorithm importable by name, as installing it would."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _algorithm_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
