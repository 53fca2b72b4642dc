"""The run journal: states survive reopening, transitions are guarded, nothing vanishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from v6lib.node.journal import Journal, LocalState


def test_entries_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    assert journal.receive(5, task_id=2, job_id=2, task_uid="u", image="img", init_org_id=1)
    journal.mark_starting(5)
    journal.mark_started(5, "handle-5")
    assert journal.finish(5, "completed", result=b"\x00{}", log="log")
    journal.close()
    reopened = Journal(path)
    entry = reopened.get(5)
    assert entry is not None
    assert entry.state is LocalState.FINISHED
    assert (entry.handle, entry.status, entry.result, entry.log) == ("handle-5", "completed",
                                                                     b"\x00{}", "log")
    assert [e.run_id for e in reopened.to_upload()] == [5]


def test_receive_is_idempotent(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    assert journal.receive(1, task_id=1)
    assert not journal.receive(1, task_id=1)


def test_finish_only_once() -> None:
    journal = Journal(":memory:")
    journal.receive(1, task_id=1)
    assert journal.finish(1, "killed by user", reason="killed")
    assert not journal.finish(1, "failed", reason="exit 137")
    entry = journal.get(1)
    assert entry is not None and entry.status == "killed by user"


def test_uploaded_only_from_finished_and_clears_the_payload() -> None:
    journal = Journal(":memory:")
    journal.receive(1, task_id=1)
    journal.mark_uploaded(1)  # not finished: ignored
    assert journal.get(1).state is LocalState.RECEIVED  # type: ignore[union-attr]
    journal.finish(1, "completed", result=b"r")
    journal.mark_uploaded(1)
    entry = journal.get(1)
    assert entry is not None and entry.state is LocalState.UPLOADED and entry.result is None
    assert journal.to_upload() == []
    assert not journal.mark_started(1, "h")  # a finished run never starts again


def test_dropped_and_abandoned_keep_a_note() -> None:
    journal = Journal(":memory:")
    journal.receive(1, task_id=9)
    journal.receive(2, task_id=9)
    journal.finish(1, "completed", result=b"r")
    journal.mark_dropped(1, "killed on the server")
    assert journal.abandon(2, "taken elsewhere")
    notes = {e.run_id: (e.state, e.note) for e in journal.of_task(9)}
    assert notes == {1: (LocalState.DROPPED, "killed on the server"),
                     2: (LocalState.DROPPED, "taken elsewhere")}


def test_update_rejects_unknown_fields() -> None:
    journal = Journal(":memory:")
    journal.receive(1, task_id=1)
    journal.update(1, active_reported=True)
    assert journal.get(1).active_reported  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no updatable field"):
        journal.update(1, state="uploaded")
    with pytest.raises(KeyError, match="not in the node's journal"):
        journal.update(99, active_reported=True)
