"""Disclosure control and the audit trail on a real server and a node process (process
runtime): a refused result never reaches the researcher, who reads why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from tests.node.test_daemon_integration import (
    EXAMPLE,
    ROOT_PASSWORD,
    Federation,
    one_node_federation,
)
from v6lib.cli import main
from v6lib.client import Client
from v6lib.errors import AlgorithmError

pytestmark = [pytest.mark.integration, pytest.mark.slow]
IMAGE = "v6-node-testalgo:latest"
POLICIES = {"disclosure": {"min_cell_count": 5, "refuse_row_level": True}}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    yield from one_node_federation(tmp_path_factory, "Guarded", policies=POLICIES,
                                   sweep_interval=0.5)


def _run(fed: Federation, method: str, **kwargs: object) -> list[object]:
    task = fed.researcher.task.create(
        collaboration=fed.collaboration, organizations=fed.org_ids, name=method,
        image=IMAGE, input_={"method": method, "kwargs": kwargs})
    return fed.researcher.wait_for_results(task["id"], timeout=120)


def test_disclosure_rules_and_the_audit_trail_at_a_node(guarded: Federation) -> None:
    org = guarded.org_ids[0]
    with pytest.raises(AlgorithmError) as refused:
        _run(guarded, "crosstab", rows="sex", columns="smoker")
    assert str(refused.value).splitlines()[0] == (
        f"task 1: organization {org} (Guarded site): refused by min_cell_count=5 at result "
        "(cell ('F', 1) = 4)")
    [table] = _run(guarded, "crosstab", rows="sex", columns="smoker", suppress=5)
    expected = pd.crosstab(pd.read_csv(EXAMPLE / "data" / "site_a.csv")["sex"],
                           pd.read_csv(EXAMPLE / "data" / "site_a.csv")["smoker"])
    assert table.table.loc["F", 0] == expected.loc["F", 0]
    assert table.table.loc["F", 1] is pd.NA
    with pytest.raises(AlgorithmError, match=fr"organization {org} \(Guarded site\): refused by "
                       r"refuse_row_level at result \(a DataFrame of 24 rows"):
        _run(guarded, "rows")
    # the trail holds the three runs with their decisions, and verifies
    config = str(guarded.configs[org])
    shown = CliRunner().invoke(main, ["node", "audit", "show", "-c", config])
    lines = shown.stdout.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["seq=1", "seq=2", "seq=3"]
    assert "status=not allowed" in lines[0] and "method=crosstab" in lines[0]
    assert "status=completed" in lines[1]
    verified = CliRunner().invoke(main, ["node", "audit", "verify", "-c", config])
    assert verified.exit_code == 0 and verified.stdout.startswith("ok: 3 entries")
    # the node publishes its head (at every sweep); the trail, edited, fails at the entry
    root = Client("http://127.0.0.1", guarded.port, "/api")
    root.authenticate("root", ROOT_PASSWORD)
    deadline = time.monotonic() + 30
    while (node := root.node.list(all_pages=True)[0])["audit_count"] != 3:
        assert time.monotonic() < deadline, guarded.log_of(org)[-3000:]
        time.sleep(0.2)
    head = f"{node['audit_count']}:{node['audit_head']}"
    trail = Path(guarded.workdir) / "task-a" / "audit.jsonl"
    trail.write_text(trail.read_text().replace("refuse_row_level", "min_cell_count", 1))
    broken = CliRunner().invoke(main, ["node", "audit", "verify", "-c", config])
    assert broken.exit_code == 1 and "BROKEN at entry 3" in broken.stderr
    trail.write_text("".join(trail.read_text().splitlines(keepends=True)[:2]))
    assert CliRunner().invoke(main, ["node", "audit", "verify", "-c", config]).exit_code == 0
    cut = CliRunner().invoke(main, ["node", "audit", "verify", "-c", config, "--head", head])
    assert cut.exit_code == 1 and "entries were removed" in cut.stderr
    # the same, with the head fetched from the server with the node's own key
    asked = CliRunner().invoke(main, ["node", "audit", "verify", "-c", config, "--server"])
    assert asked.exit_code == 1 and asked.stdout.startswith("published: 3 entries")
    assert "entries were removed" in asked.stderr
