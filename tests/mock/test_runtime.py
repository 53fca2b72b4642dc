"""Parity with the container entrypoint: the same algorithm fails with the same words."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from v6lib.mock import MockNetwork
from v6lib.wrappers.runner import main


def _container_log(
    method: str,
    algorithms: ModuleType,
    frame: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """Run ``method`` through the real entrypoint, as a node would start the container."""
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    (tmp_path / "input.json").write_text(f'{{"method": "{method}"}}')
    env = {
        "INPUT_FILE": tmp_path / "input.json",
        "OUTPUT_FILE": tmp_path / "output.json",
        "TOKEN_FILE": tmp_path / "token",
        "USER_REQUESTED_DATABASE_LABELS": "default",
        "DEFAULT_DATABASE_URI": data,
        "DEFAULT_DATABASE_TYPE": "csv",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    code = main([algorithms.__name__])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("method", "exit_code"), [("unserializable", 65), ("calls_exit", 3)])
def test_mock_log_starts_like_the_container_log(
    algorithms: ModuleType,
    sites: list[pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    method: str,
    exit_code: int,
) -> None:
    code, container = _container_log(method, algorithms, sites[0], tmp_path, monkeypatch, capsys)
    with MockNetwork(algorithms, sites[:1]) as network:
        task = network.create_task(method)
        network.store.wait(task["id"], timeout=30)
        [run] = network.runs(task["id"])

    summary = next(line for line in container.splitlines() if "the run failed" in line)
    assert code == exit_code
    assert run["status"] == "failed"
    assert run["log"].splitlines()[0] == summary
    assert f"(exit code {exit_code})" in summary
