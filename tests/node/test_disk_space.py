"""A full disk at the node, on a real size-limited file system: refuse new runs with a
reason, keep the runs in flight, and recover by itself when space returns."""

from __future__ import annotations

import errno
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.small_disk import fill_disk
from v6lib.errors import ServerUnavailableError
from v6lib.node.disk_space import (
    DiskFullError,
    check_free_space,
    free_mb,
    is_disk_full,
)
from v6lib.node.journal import Journal

from .conftest import NodeHarness, wait_until
from .fakes import FakeRuntime, FakeServer


def test_free_space_below_the_minimum_names_the_folder(small_disk: Path) -> None:
    check_free_space(small_disk, 4)  # an empty 8 MB disk has room
    fill_disk(small_disk, leave_bytes=2 * 1024 * 1024)
    with pytest.raises(DiskFullError, match=r"node disk full: [12] MB free in .*small-disk"):
        check_free_space(small_disk, 4)
    assert free_mb(small_disk / "not" / "made" / "yet") == free_mb(small_disk)


def test_a_full_disk_is_recognised_in_sqlite_and_os_errors(small_disk: Path) -> None:
    journal = Journal(small_disk / "journal.sqlite")
    fill_disk(small_disk)
    with pytest.raises(OperationalError) as raised:
        for run_id in range(1, 200):
            journal.receive(run_id, task_id=run_id, image="x" * 4000)
    journal.close()
    assert is_disk_full(raised.value)
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))


def _server() -> FakeServer:
    server = FakeServer()
    server.add_node(1, api_key="key1")
    server.add_node(2, api_key="key2")
    return server


def test_full_disk_refuses_new_runs_and_finishes_active_ones_once_space_returns(
    harness: NodeHarness, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server, runtime = _server(), FakeRuntime()
    harness.start(server, runtime, task_dir=small_disk / "node2", min_free_disk_mb=3)
    active = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(active["id"])
    wait_until(lambda: active["status"] == "active", what="active")
    job.spec.output_file.write_bytes(b'{"mean": 1.5}')

    # below the minimum, but room for the journal: refused with the reason
    almost = fill_disk(small_disk, leave_bytes=1024 * 1024, name="almost")
    refused = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: refused["status"] == "start failed", what="refused")
    assert str(refused["reason"]).startswith("node disk full: ")
    assert str(small_disk / "node2") in str(refused["reason"])

    # no room at all: not even the journal row fits, yet the run is not left pending
    full = fill_disk(small_disk, name="full")
    unjournaled = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: unjournaled["status"] == "start failed", what="refused, no journal")
    assert str(unjournaled["reason"]).startswith("node disk full: 0 MB free")

    # the active run ends while the disk is full: its outcome cannot be journaled
    runtime.finish(job.handle, 0, None, "x" * 200_000)
    wait_until(lambda: f"watcher of run {active['id']} failed" in caplog.text,
               what="the watcher's failure logged")
    assert active["status"] == "active"

    full.unlink()
    almost.unlink()
    wait_until(lambda: active["status"] == "completed", timeout=10, what="completed")
    wait_until(lambda: f"watcher of run {active['id']} recovered" in caplog.text,
               what="the recovery logged")
    failures = [r for r in caplog.records
                if r.levelno == logging.ERROR and "watcher of run" in r.getMessage()]
    assert len(failures) == 1  # logged once, not once per retry


def test_a_started_run_the_journal_cannot_record_is_removed_and_started_again(
    harness: NodeHarness,
) -> None:
    server, runtime = _server(), FakeRuntime(auto=lambda spec: (0, b"1", ""))
    node = harness.start(server, runtime, sweep_interval=0.2)
    original = node.journal.mark_started
    failures: list[int] = []

    def full_once(run_id: int, handle: str) -> Any:
        if not failures:
            failures.append(run_id)
            raise sqlite3.OperationalError("database or disk is full")
        return original(run_id, handle)

    node.journal.mark_started = full_once  # type: ignore[method-assign]
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="completed by a second start")
    assert runtime.started == [run["id"], run["id"]]
    assert len(runtime.removed) >= 1 and runtime.removed[0].startswith(f"fake-{run['id']}-0")


def test_a_run_failing_while_the_disk_is_full_says_so(
        harness: NodeHarness, small_disk: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Its own log, on the same disk, may not: the reason names the disk, also when the
    outcome can only be journaled once space is back."""
    server, runtime = _server(), FakeRuntime()
    harness.start(server, runtime, task_dir=small_disk / "node2", min_free_disk_mb=3)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    filler = fill_disk(small_disk)
    runtime.finish(job.handle, 1, None, "x" * 200_000)
    wait_until(lambda: f"watcher of run {run['id']} failed" in caplog.text,
               what="the outcome not journaled on the full disk")
    filler.unlink()
    wait_until(lambda: run["status"] == "failed", what="failed")
    assert str(run["reason"]).startswith("algorithm exited with code 1 (node disk full: 0 MB")
    other = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    runtime.finish(runtime.wait_started(other["id"]).handle, 3)
    wait_until(lambda: other["status"] == "failed", what="failed with room")
    assert other["reason"] == "algorithm exited with code 3"


def test_a_run_started_but_neither_recorded_nor_removed_is_adopted_not_left(
    harness: NodeHarness,
) -> None:
    """A start the journal could not record, whose removal failed too: the next sweep
    finds the run in the runtime and watches it, instead of leaving it to a restart."""
    server, runtime = _server(), FakeRuntime()
    node = harness.start(server, runtime, sweep_interval=0.2)
    original = node.journal.mark_started
    calls: list[int] = []

    def full_once(run_id: int, handle: str) -> Any:
        calls.append(run_id)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        return original(run_id, handle)

    def remove_fails(handle: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    node.journal.mark_started = full_once  # type: ignore[method-assign]
    real_remove, runtime.remove = runtime.remove, remove_fails  # type: ignore[method-assign]
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: len(calls) >= 2, what="the sweep adopting the run")
    runtime.remove = real_remove  # type: ignore[method-assign]
    wait_until(lambda: run["status"] == "active", what="reported active")
    runtime.finish(job.handle, 0, b'{"x": 1}')
    wait_until(lambda: run["status"] == "completed", what="completed")
    assert runtime.started == [run["id"]]  # adopted, not started again


def test_a_claim_neither_journaled_nor_reported_is_resumed(harness: NodeHarness) -> None:
    """Not even the journal row fitted, and the report of the failed start did not reach
    the server: the run is initializing on the server only. The sweep resumes it."""
    server, runtime = _server(), FakeRuntime(auto=lambda spec: (0, b"1", ""))
    node = harness.start(server, runtime, sweep_interval=3600)
    original_receive, original_patch = node.journal.receive, node.link.patch_run
    refused: list[int] = []

    def full_once(run_id: int, **fields: Any) -> bool:
        if not refused:
            refused.append(run_id)
            raise sqlite3.OperationalError("database or disk is full")
        return original_receive(run_id, **fields)

    def patch_lost_once(run_id: int, body: dict[str, Any]) -> Any:
        if body.get("status") == "start failed" and len(refused) == 1:
            refused.append(run_id)
            raise ServerUnavailableError("connection reset")
        return original_patch(run_id, body)

    node.journal.receive = full_once  # type: ignore[method-assign]
    node.link.patch_run = patch_lost_once  # type: ignore[method-assign]
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: len(refused) == 2, what="the claim refused and its report lost")
    time.sleep(0.5)
    assert run["status"] == "initializing" and node.journal.get(run["id"]) is None
    node.sweep()
    wait_until(lambda: run["status"] == "completed", what="resumed and completed")
    assert runtime.started == [run["id"]]


def test_a_started_run_is_watched_although_its_active_report_cannot_be_journaled(
    harness: NodeHarness,
) -> None:
    """The report got through, the journal could not note it (a full disk): the run must
    still be watched, or it would stay active on the server for ever."""
    server, runtime = _server(), FakeRuntime()
    node = harness.start(server, runtime)
    original = node.journal.update
    refused: list[int] = []

    def full_once(run_id: int, **fields: Any) -> None:
        if fields == {"active_reported": True} and not refused:
            refused.append(run_id)
            raise sqlite3.OperationalError("database or disk is full")
        original(run_id, **fields)

    node.journal.update = full_once  # type: ignore[method-assign]
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: refused, what="the active report's journal update refused")
    runtime.finish(job.handle, 0, b'{"x": 1}')
    wait_until(lambda: run["status"] == "completed", what="completed")
