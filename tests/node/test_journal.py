"""The run journal: states survive reopening, transitions are guarded, nothing vanishes."""

from __future__ import annotations

import sqlite3
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from v6lib.errors import ConfigurationError
from v6lib.node.journal import DEFAULT_RETENTION, Journal, LocalState

from .conftest import NodeHarness, wait_until
from .fakes import FakeRuntime, FakeServer


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


def test_journal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "tasks" / "j.sqlite"
    journal = Journal(path)
    try:
        journal.receive(5, task_id=2, job_id=2, task_uid="u", image="img", init_org_id=1)
        files = [path, *tmp_path.joinpath("tasks").glob("j.sqlite-*")]
        assert any(p.name.endswith("-wal") for p in files), files
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        assert journal.results is not None
        assert stat.S_IMODE(journal.results.directory.stat().st_mode) == 0o700
    finally:
        journal.close()


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


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now


def _done(journal: Journal, run_id: int, *, payload: bytes = b"r", uploaded: bool = True
          ) -> None:
    journal.receive(run_id, task_id=1)
    journal.finish(run_id, "completed", result=payload, log="log text")
    if uploaded:
        journal.mark_uploaded(run_id)
    else:
        journal.mark_dropped(run_id, "killed on the server")


def test_upload_drops_result_and_log_but_keeps_the_row() -> None:
    journal = Journal(":memory:")
    _done(journal, 1)
    _done(journal, 2, uploaded=False)
    for run_id, state in ((1, LocalState.UPLOADED), (2, LocalState.DROPPED)):
        entry = journal.get(run_id)
        assert entry is not None and entry.state is state
        assert (entry.result, entry.log, entry.status) == (None, None, "completed")


def test_prune_deletes_only_done_rows_past_the_retention() -> None:
    clock = Clock()
    journal = Journal(":memory:", clock=clock, retention=timedelta(days=2))
    assert timedelta(days=7) == DEFAULT_RETENTION
    _done(journal, 1)                       # uploaded, will be old
    _done(journal, 2, uploaded=False)       # dropped, will be old
    journal.receive(3, task_id=1)           # in flight, old: never pruned
    journal.receive(4, task_id=1)
    journal.finish(4, "failed", reason="x")  # finished, not uploaded: never pruned
    clock.now += timedelta(days=1)
    _done(journal, 5)                       # uploaded, recent
    assert journal.prune() == 0
    clock.now += timedelta(days=1, seconds=1)
    assert journal.prune() == 2
    assert journal.get(1) is None and journal.get(2) is None
    assert {e.run_id for e in journal.in_state(*LocalState)} == {3, 4, 5}
    assert [e.run_id for e in journal.to_upload()] == [4]
    clock.now += timedelta(days=30)
    assert journal.prune() == 1 and journal.get(5) is None
    assert journal.get(3) is not None and journal.get(4) is not None


def test_prune_works_through_many_rows_in_batches() -> None:
    clock = Clock()
    journal = Journal(":memory:", clock=clock, retention=timedelta(hours=1))
    for run_id in range(1, 1202):
        _done(journal, run_id, payload=b"")
    clock.now += timedelta(hours=2)
    assert journal.prune() == 1201
    assert journal.in_state(*LocalState) == []


def test_prune_clears_payloads_left_by_older_versions(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    _done(journal, 1)
    journal.close()
    with sqlite3.connect(path) as raw:  # an uploaded row as older versions left it
        raw.execute("UPDATE node_run SET result = ?, log = 'old log' WHERE run_id = 1",
                    (b"x" * 1000,))
    journal = Journal(path)
    assert journal.get(1).result == b"x" * 1000  # type: ignore[union-attr]
    assert journal.prune() == 0
    entry = journal.get(1)
    assert entry is not None and entry.result is None and entry.log is None
    assert entry.state is LocalState.UPLOADED


def test_retention_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="retention must be positive"):
        Journal(":memory:", retention=timedelta(0))


def _auto_vacuum(path: Path) -> int:
    with sqlite3.connect(path) as raw:
        return int(raw.execute("PRAGMA auto_vacuum").fetchone()[0])


def _disk(path: Path) -> int:
    """Bytes on disk: the database file and its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def test_pruned_space_goes_back_to_the_disk_incrementally(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    clock = Clock()
    journal = Journal(path, clock=clock, retention=timedelta(days=1))
    assert _auto_vacuum(path) == 2  # incremental
    for run_id in range(1, 41):
        journal.receive(run_id, task_id=1)
        journal.finish(run_id, "completed", result=bytes(50_000))
    journal.close()
    journal = Journal(path, clock=clock, retention=timedelta(days=1))
    full = _disk(path)
    assert full > 40 * 50_000
    for run_id in range(1, 41):
        journal.mark_uploaded(run_id)
    # the payloads are gone at once; their pages are free but not yet returned
    before = journal.free_pages()
    assert before > 400
    clock.now += timedelta(days=2)
    assert journal.prune(vacuum_pages=100) == 40
    # at most 100 pages handed back per call (deleting the rows may free a few more)
    assert before - 100 <= journal.free_pages() <= before - 100 + 20
    journal.prune(vacuum_pages=100_000)
    assert journal.free_pages() == 0
    assert _disk(path) < full / 10
    journal.close()


def test_a_file_from_an_older_version_is_converted_once(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA auto_vacuum=NONE")
    raw.execute("VACUUM")
    raw.close()
    assert _auto_vacuum(path) == 0
    journal = Journal(path)
    journal.receive(1, task_id=1)
    journal.close()
    assert _auto_vacuum(path) == 2
    assert Journal(path).get(1) is not None


def test_a_task_uid_belongs_to_the_first_task_that_used_it(tmp_path: Path) -> None:
    clock = [datetime(2026, 1, 1)]
    path = tmp_path / "j.sqlite"
    journal = Journal(path, clock=lambda: clock[0])
    assert journal.record_task_uid("uid-a", 10, 1) is None
    assert journal.record_task_uid("uid-a", 10, 1) is None  # the same run, claimed again
    assert journal.record_task_uid("uid-b", 11, 2) is None
    assert journal.record_task_uid("uid-a", 12, 3) == 10  # a re-created task: a replay
    assert journal.record_task_uid("uid-a", 10, 4) == 10  # ... even if it got the same id
    journal.receive(1, task_id=10, task_uid="uid-a")
    journal.finish(1, "completed")
    journal.mark_uploaded(1)
    clock[0] += DEFAULT_RETENTION * 10
    assert journal.prune() == 1
    journal.close()
    reopened = Journal(path)
    assert reopened.record_task_uid("uid-a", 13, 5) == 10  # kept past pruning, restarts
    reopened.close()


def test_an_older_file_gets_the_token_column_and_its_task_uids(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    journal.receive(1, task_id=10, task_uid="uid-a")
    journal.close()
    with sqlite3.connect(path) as raw:  # the file as the previous version left it
        raw.execute("DROP TABLE node_task_uid")
        raw.execute("ALTER TABLE node_run DROP COLUMN token_digest")
    upgraded = Journal(path)
    upgraded.update(1, token_digest="ab" * 32)
    entry = upgraded.get(1)
    assert entry is not None and entry.token_digest == "ab" * 32
    assert upgraded.record_task_uid("uid-a", 11, 2) == 10
    upgraded.close()


def _server() -> FakeServer:
    server = FakeServer()
    server.add_node(1, api_key="key1")
    server.add_node(2, api_key="key2")
    return server


def test_a_done_run_with_its_payload_pruned_is_never_run_again(harness: NodeHarness) -> None:
    server, runtime = _server(), FakeRuntime(auto=lambda spec: (0, b'{"x": 1}', "log"))
    node = harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    run_id = run["id"]
    wait_until(lambda: (e := node.journal.get(run_id)) is not None
               and e.state is LocalState.UPLOADED, what="uploaded")
    entry = node.journal.get(run_id)
    assert entry is not None and entry.result is None and entry.log is None
    assert node.journal.prune() == 0  # within the retention: the row stays
    # The server offers the run again and would even let it be claimed: only the
    # journal's row stands between the node and a second execution.
    run["status"] = "pending"
    assert node.executor is not None
    node.executor.handle_run(dict(run))
    node.dispatch({"type": "run_created", "run_id": run_id, "organization_id": 2,
                   "task_id": run["task_id"]})
    node.sweep()
    time.sleep(0.3)
    assert runtime.started == [run_id]
    assert run["status"] == "pending"  # not even claimed
    assert node.journal.get(run_id).state is LocalState.UPLOADED  # type: ignore[union-attr]


def test_after_the_retention_the_servers_terminal_status_still_blocks_a_rerun(
        harness: NodeHarness) -> None:
    server, runtime = _server(), FakeRuntime(auto=lambda spec: (0, b"{}", ""))
    node = harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: (e := node.journal.get(run["id"])) is not None
               and e.state is LocalState.UPLOADED, what="uploaded")
    node.journal.retention = timedelta(microseconds=1)
    time.sleep(0.01)
    assert node.journal.prune() == 1 and node.journal.get(run["id"]) is None
    assert node.executor is not None
    node.executor.handle_run(dict(run))  # the server's view: completed
    node.sweep()
    time.sleep(0.2)
    assert runtime.started == [run["id"]]


def test_an_older_file_gets_the_task_time_limit_column(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    journal.receive(1, task_id=10)
    journal.close()
    with sqlite3.connect(path) as raw:  # the file as the previous version left it
        raw.execute("ALTER TABLE node_run DROP COLUMN max_run_seconds")
    upgraded = Journal(path)
    assert upgraded.get(1).max_run_seconds is None  # type: ignore[union-attr]
    upgraded.update(1, max_run_seconds=30.0)
    entry = upgraded.get(1)
    assert entry is not None and entry.max_run_seconds == 30.0
    upgraded.close()
