"""``v6 node audit show|verify|export`` on a node's trail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from v6lib.cli import main
from v6lib.node.audit import AuditTrail

from .test_node import _config_home, new_node  # noqa: F401  (the fixture is used)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = new_node(tmp_path)
    trail = AuditTrail(tmp_path / "tasks" / "audit.jsonl")
    for run_id in (11, 12, 13):
        trail.append({"run_id": run_id, "task_id": 7, "image": "v6-average:latest",
                      "method": "partial_average", "status": "completed"})
    return path


def _v6(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["node", "audit", *args])
    return result.exit_code, result.stdout, result.stderr


def test_show_verify_and_export(config: Path, tmp_path: Path) -> None:
    code, out, _ = _v6("show", "-c", str(config), "--last", "2")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["seq=2", "seq=3"]
    assert "method=partial_average" in out and "status=completed" in out
    code, out, _ = _v6("verify", "-c", str(config))
    assert code == 0 and out.startswith("ok: 3 entries, head ")
    head = out.split()[-1]
    assert _v6("verify", "-c", str(config), "--head", f"3:{head}")[0] == 0
    target = tmp_path / "export.jsonl"
    assert _v6("export", "-c", str(config), "-o", str(target))[0] == 0
    exported = [json.loads(line) for line in target.read_text().splitlines()]
    assert [e["run_id"] for e in exported] == [11, 12, 13] and exported[2]["hash"] == head
    # the export is a trail of its own: it verifies as it is
    assert _v6("verify", "--file", str(target))[0] == 0


def test_verify_names_the_entry_edited_by_hand(config: Path, tmp_path: Path) -> None:
    trail = tmp_path / "tasks" / "audit.jsonl"
    lines = trail.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("partial_average", "central_average")
    trail.write_text("".join(lines))
    code, _, err = _v6("verify", "-c", str(config))
    assert code == 1
    assert err.strip() == "BROKEN at entry 2: entry 2 does not match its hash: it was edited"
    assert _v6("verify", "-c", str(config), "--head", "3:nothex")[0] == 2
