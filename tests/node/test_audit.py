"""The hash-chained audit trail: any edit, removal or reordering is found, and where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v6lib.node.audit import GENESIS, AuditTrail, ChainHead, entries, verify


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    audit = AuditTrail(path)
    for run_id in range(1, 6):
        audit.append({"run_id": run_id, "status": "completed"})
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_an_intact_trail_verifies_and_continues_after_reopening(trail: Path) -> None:
    result = verify(trail)
    assert result.ok and result.head.count == 5
    assert entries(trail)[0]["prev"] == GENESIS
    head = AuditTrail(trail).append({"run_id": 6})
    assert head.count == 6 and verify(trail).head == head


def test_an_entry_edited_by_hand_fails_at_that_entry(trail: Path) -> None:
    lines = _lines(trail)
    lines[2] = lines[2].replace('"status":"completed"', '"status":"failed"')
    trail.write_text("".join(lines))
    result = verify(trail)
    assert (result.ok, result.entry) == (False, 3)
    assert result.problem == "entry 3 does not match its hash: it was edited"


def test_an_edit_with_a_recomputed_hash_fails_at_the_next_entry(trail: Path) -> None:
    from v6lib.node.audit import entry_hash

    lines = _lines(trail)
    entry = json.loads(lines[1])
    entry["status"] = "failed"
    entry["hash"] = entry_hash(entry)
    lines[1] = json.dumps(entry) + "\n"
    trail.write_text("".join(lines))
    result = verify(trail)
    assert result.entry == 3 and "does not follow entry 2" in str(result.problem)


def test_removing_or_reordering_entries_is_found(trail: Path) -> None:
    lines = _lines(trail)
    trail.write_text("".join(lines[:1] + lines[2:]))
    assert verify(trail).entry == 2 and "seq 3" in str(verify(trail).problem)
    trail.write_text("".join([lines[0], lines[2], lines[1], *lines[3:]]))
    assert verify(trail).entry == 2


def test_truncation_and_a_rewritten_tail_are_found_against_the_published_head(
        trail: Path) -> None:
    published = verify(trail).head
    trail.write_text("".join(_lines(trail)[:3]))
    assert verify(trail).ok  # the chain alone cannot tell
    result = verify(trail, published)
    assert result.entry == 4 and "entries were removed" in str(result.problem)
    audit = AuditTrail(trail)
    audit.append({"run_id": 40})
    audit.append({"run_id": 50})
    result = verify(trail, published)
    assert result.entry == 5 and "rewritten" in str(result.problem)
    assert verify(trail, ChainHead(0, GENESIS)).ok


def test_a_write_cut_off_by_a_crash_is_removed_when_the_node_starts(trail: Path) -> None:
    with trail.open("a") as file:
        file.write('{"run_id": 6, "se')
    assert verify(trail).entry == 6
    AuditTrail(trail).append({"run_id": 6})
    assert verify(trail).ok and verify(trail).head.count == 6
