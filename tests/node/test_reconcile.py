"""Crash and restart: journaled results are delivered exactly once, nothing runs twice."""

from __future__ import annotations

import time

from v6lib.node.executor import GONE_REASON
from v6lib.node.journal import LocalState
from v6lib.node.reconcile import LOST_REASON

from .conftest import NodeHarness, wait_until
from .fakes import FakeRuntime, FakeServer


def server_with_node() -> FakeServer:
    server = FakeServer()
    server.add_node(1, api_key="key1")
    server.add_node(2, api_key="key2")
    return server


def test_result_journaled_before_upload_is_delivered_once_after_restart(
        harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    first = harness.start(server, runtime)
    task = server.create_task("img", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    server.down = True  # the result cannot leave the node
    runtime.finish(job.handle, 0, b'{"mean": 2.5}', "log")
    wait_until(lambda: (e := first.journal.get(run["id"])) and e.state is LocalState.FINISHED,
               what="result journaled")
    harness.crash(first)
    assert run["status"] == "active"

    server.down = False
    harness.start(server, runtime)
    wait_until(lambda: run["status"] == "completed", what="delivered after restart")
    assert server.accepted_terminal_patches(run["id"]) == [
        {"status": "completed", "result": "eyJtZWFuIjogMi41fQ==", "log": "log"}]
    assert runtime.started == [run["id"]]


def test_completed_run_is_never_executed_again(harness: NodeHarness) -> None:
    server = server_with_node()
    runtime = FakeRuntime(auto=lambda spec: (0, b"1", ""))
    first = harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: (e := first.journal.get(run["id"])) and e.state is LocalState.UPLOADED,
               what="uploaded")
    harness.crash(first)
    run["status"] = "pending"  # even if the server offered it again
    second = harness.start(server, runtime)
    time.sleep(0.3)
    assert runtime.started == [run["id"]]
    assert len(server.accepted_terminal_patches(run["id"])) == 1
    assert second.journal.get(run["id"]).state is LocalState.UPLOADED  # type: ignore[union-attr]


def test_lost_response_is_not_a_duplicate(harness: NodeHarness) -> None:
    server = server_with_node()
    runtime = FakeRuntime()
    node = harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    server.lose_responses = 1  # the completed PATCH arrives but its answer is lost
    runtime.finish(job.handle, 0, b"3", "")
    wait_until(lambda: (e := node.journal.get(run["id"])) and e.state is LocalState.UPLOADED,
               what="uploaded")
    assert len(server.accepted_terminal_patches(run["id"])) == 1
    assert run["status"] == "completed"


def test_running_container_is_kept_and_collected_after_restart(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    first = harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    harness.crash(first)
    second = harness.start(server, runtime)
    assert second.reconcile_report is not None
    assert second.reconcile_report.watching == [run["id"]]
    runtime.finish(job.handle, 0, b'"done"', "")
    wait_until(lambda: run["status"] == "completed", what="completed after restart")
    assert runtime.started == [run["id"]]


def test_container_ended_while_node_was_down(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    first = harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    harness.crash(first)
    runtime.finish(job.handle, 0, b"[1, 2]", "")
    second = harness.start(server, runtime)
    assert second.reconcile_report.collected == [run["id"]]  # type: ignore[union-attr]
    wait_until(lambda: run["status"] == "completed", what="collected")


def test_container_gone_is_reported_crashed(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    first = harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    harness.crash(first)
    runtime.remove(job.handle)  # e.g. the machine rebooted
    harness.start(server, runtime)
    wait_until(lambda: run["status"] == "crashed", what="crashed")
    assert run["reason"] == GONE_REASON
    assert runtime.started == [run["id"]]


def test_killed_while_node_was_down_is_never_restarted(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    first = harness.start(server, runtime)
    task = server.create_task("img", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    job = runtime.wait_started(run["id"])
    harness.crash(first)
    server.kill_task(task["id"])
    second = harness.start(server, runtime)
    assert second.reconcile_report.killed == [run["id"]]  # type: ignore[union-attr]
    assert job.killed
    time.sleep(0.3)
    assert runtime.started == [run["id"]]
    assert run["status"] == "killed by user"


def test_killed_run_result_is_dropped_with_a_note(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    first = harness.start(server, runtime)
    task = server.create_task("img", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    server.down = True
    runtime.finish(job.handle, 0, b"1", "")
    wait_until(lambda: (e := first.journal.get(run["id"])) and e.state is LocalState.FINISHED,
               what="journaled")
    harness.crash(first)
    run["status"] = "killed by user"  # killed on the server while the node was away
    server.down = False
    second = harness.start(server, runtime)
    entry = wait_until(lambda: (e := second.journal.get(run["id"])) and
                       e.state is LocalState.DROPPED and e, what="dropped")
    assert entry.note == "the run was killed on the server"
    assert run["status"] == "killed by user"


def test_run_unknown_to_the_journal_is_reported(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    run["status"] = "active"  # the server thinks this node runs it; the node forgot
    harness.start(server, runtime)
    wait_until(lambda: run["status"] == "crashed", what="crashed")
    assert run["reason"] == LOST_REASON
    assert runtime.started == []
