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


def _penguins() -> list[pd.DataFrame]:
    big = pd.DataFrame({"island": ["biscoe"] * 12, "sex": ["F", "M"] * 6})
    small = pd.DataFrame({"island": ["biscoe"] * 10 + ["islands"] * 2,
                          "sex": ["F", "M"] * 5 + ["M", "M"]})
    return [big, big, small]


DISCLOSURE = {"disclosure": {"min_cell_count": 5, "refuse_row_level": True}}


def test_a_node_policy_refuses_a_small_cell_table_with_the_nodes_reason(
        algorithms: ModuleType) -> None:
    from v6lib.errors import AlgorithmError

    with MockNetwork(algorithms, _penguins(), node_policies={3: DISCLOSURE}) as network:
        with pytest.raises(AlgorithmError) as raised:
            network.run("crosstab", kwargs={"rows": "island", "columns": "sex"})
        assert str(raised.value).splitlines()[0] == (
            "task 1: organization 3: refused by min_cell_count=5 at result (cell "
            "('islands', 'M') = 2)")
        assert [r["status"] for r in network.runs(1)] == ["completed", "completed",
                                                          "not allowed"]
        assert network.runs(1)[2]["result"] is None
        tables = network.run("crosstab", kwargs={"rows": "island", "columns": "sex",
                                                 "suppress": 5})
        assert tables[2].table.loc["islands", "M"] is pd.NA


def test_a_node_policy_refuses_row_level_data(algorithms: ModuleType) -> None:
    from v6lib.errors import AlgorithmError

    with MockNetwork(algorithms, _penguins(), node_policies={1: DISCLOSURE}) as network:
        with pytest.raises(AlgorithmError, match=r"organization 1: refused by "
                           r"refuse_row_level at result \(a DataFrame of 12 rows"):
            network.run("head")
        assert len(network.run("head", kwargs={"rows": 2})[0]) == 2


def test_node_policies_are_checked_like_a_node_configuration(algorithms: ModuleType) -> None:
    from v6lib.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"node_policies\[1\].*min_cell_count"):
        MockNetwork(algorithms, _penguins(), node_policies={1: {"disclosure": {
            "min_cell_count": -1}}})
    with pytest.raises(ConfigurationError, match="node_policies key 9"):
        MockNetwork(algorithms, _penguins(), node_policies={9: {}})
