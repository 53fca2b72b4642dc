"""The node daemon against a fake server and runtime: the run life cycle and its outcomes."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from v6lib import errors
from v6lib.errors import VersionMismatchError
from v6lib.node.daemon import check_version
from v6lib.node.journal import LocalState
from v6lib.node.runtime.base import JobSpec

from .conftest import NodeHarness, wait_until
from .fakes import FakeRuntime, FakeServer


def server_with_node(org: int = 2, **kw: object) -> FakeServer:
    server = FakeServer(**kw)  # type: ignore[arg-type]
    server.add_node(1, api_key="key1")
    server.add_node(org, api_key=f"key{org}")
    return server


def decoded_result(run: dict[str, object]) -> bytes:
    return base64.b64decode(str(run["result"]))


def test_run_completes_with_input_token_and_result(harness: NodeHarness) -> None:
    seen: dict[str, bytes] = {}

    def algorithm(spec: JobSpec) -> tuple[int, bytes, str]:
        seen["input"] = spec.input_file.read_bytes()
        seen["token"] = spec.token_file.read_bytes()
        seen["db"] = spec.databases[0].uri.encode()
        return 0, b'{"sum": 6}', "all good"

    server, runtime = server_with_node(), FakeRuntime(auto=algorithm)
    harness.start(server, runtime)
    task = server.create_task("v6-average:latest", {2: b'{"method": "partial"}'})
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="completed run")
    assert decoded_result(run) == b'{"sum": 6}'
    assert run["log"] == "all good"
    assert seen["input"] == b'{"method": "partial"}'
    assert seen["token"] == f"container-{run['id']}".encode()
    assert seen["db"].endswith(b"data.csv")
    statuses = [b["status"] for r, b, _ in server.patches if r == run["id"]]
    assert statuses == ["initializing", "active", "completed"]
    wait_until(lambda: runtime.removed, what="container removed")
    job_dir = harness.tmp_path / "node2" / "jobs" / str(task["id"])
    wait_until(lambda: not job_dir.exists(), what="job files removed")


def test_refused_run_never_starts_and_names_the_reason(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    harness.start(server, runtime)
    task = server.create_task("v6-average", {2: b"{}"}, databases=[{"label": "x"}])
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "not allowed", what="refusal")
    assert run["reason"] == "database label 'x' is not configured on node 'node2'"
    assert runtime.started == []


def test_image_policy_refusal(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    harness.start(server, runtime, allowed_images=(r"harbor\.example/.*",))
    task = server.create_task("evil:1", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "not allowed", what="refusal")
    assert run["reason"] == "image 'evil:1' refused by node 'node2': not in allowed_images"


def test_nonzero_exit_is_failed_with_log(harness: NodeHarness) -> None:
    server = server_with_node()
    runtime = FakeRuntime(auto=lambda spec: (3, None, "Traceback: boom"))
    harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: run["status"] == "failed", what="failure")
    assert run["reason"] == "algorithm exited with code 3"
    assert run["log"] == "Traceback: boom"


@pytest.mark.parametrize(("output", "reason"), [
    (None, "the algorithm wrote no output file"),
    (b"not json", "the output file is not JSON"),
])
def test_missing_or_invalid_output_is_unexpected(harness: NodeHarness, output: bytes | None,
                                                 reason: str) -> None:
    server = server_with_node()
    harness.start(server, FakeRuntime(auto=lambda spec: (0, output, "")))
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: run["status"] == "unexpected output", what="unexpected output")
    assert str(run["reason"]).startswith(reason)


def test_start_failure_is_reported(harness: NodeHarness) -> None:
    from v6lib.errors import NotFoundError

    server, runtime = server_with_node(), FakeRuntime()
    runtime.fail_start = NotFoundError("image 'img' not found")
    harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: run["status"] == "no docker image", what="no image")
    assert run["reason"] == "image 'img' not found"


def test_a_kill_event_stops_the_container_without_waiting_for_a_sweep(harness: NodeHarness
                                                                      ) -> None:
    """The periodic sweep would also find the kill, but only after ``sweep_interval``: with
    the sweep an hour away, a stopped container proves the ``task_killed`` event did it
    (how fast it does so on a quiet machine is a benchmark figure, not a test)."""
    server, runtime = server_with_node(), FakeRuntime()
    node = harness.start(server, runtime, sweep_interval=3600.0)
    task = server.create_task("img", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    server.kill_task(task["id"])
    wait_until(lambda: job.killed, timeout=20.0, what="container killed")
    entry = wait_until(lambda: (e := node.journal.get(run["id"])) and
                       e.state is LocalState.UPLOADED and e, what="kill delivered")
    assert entry.status == "killed by user"
    assert run["status"] == "killed by user"


def test_pending_runs_are_taken_at_start(harness: NodeHarness) -> None:
    server = server_with_node()
    task = server.create_task("img", {2: b"{}"})  # before the node exists
    harness.start(server, FakeRuntime(auto=lambda spec: (0, b"1", "")))
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="pending run done")


def test_run_of_other_organization_is_ignored(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    harness.start(server, runtime)
    task = server.create_task("img", {1: b"{}"})
    time.sleep(0.3)
    assert runtime.started == []
    assert server.run_of(task["id"], 1)["status"] == "pending"


def test_outage_then_reauthentication_and_queued_run(harness: NodeHarness) -> None:
    server = server_with_node()
    harness.start(server, FakeRuntime(auto=lambda spec: (0, b"2", "")))
    logins = server.logins
    server.down = True
    time.sleep(0.2)
    server.valid_tokens.clear()  # tokens expired during the long outage
    task = server.create_task("img", {2: b"{}"})
    server.down = False
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="queued run done after outage")
    assert server.logins > logins


def test_the_first_poll_after_an_outage_is_not_held(harness: NodeHarness) -> None:
    """Runs whose claim failed when the server went away are taken again by the sweep
    after the outage; a held first poll would delay that by a whole long-poll (up to
    ``event_timeout``) when no new event comes."""
    server = server_with_node()
    harness.start(server, FakeRuntime(auto=lambda spec: (0, b"2", "")), event_timeout=5)
    wait_until(lambda: server.event_polls, what="first poll")
    server.event_refusals.append(errors.ServerUnavailableError("the instance died"))
    wait_until(lambda: any(refused for _, refused in server.event_polls), what="outage")
    lost = next(i for i, (_, refused) in enumerate(server.event_polls) if refused)
    wait_until(lambda: len(server.event_timeouts) >= lost + 3, what="polls after it")
    assert server.event_timeouts[lost - 1] == 5, "polls before the outage are held"
    assert server.event_timeouts[lost + 1] == 0, "the first poll after it is not"
    assert server.event_timeouts[lost + 2] == 5, "and the next ones are again"


@pytest.mark.parametrize("path", ["version", "node", "collaboration", "event"])
def test_start_up_retries_requests_that_time_out_after_login(harness: NodeHarness,
                                                             path: str) -> None:
    server = server_with_node()
    task = server.create_task("img", {2: b"{}"})
    server.timeouts[path] = 2
    harness.start(server, FakeRuntime(auto=lambda spec: (0, b"3", "")))
    assert server.timeouts[path] == 0
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="run done after a slow start")


def test_a_kill_missed_during_a_long_outage_stops_the_run(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    node = harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    server.down = True
    time.sleep(1.3)  # longer than the pause between the node's polls
    run["status"] = "killed by user"  # its event expired before the node came back
    server.down = False
    wait_until(lambda: job.killed, what="run stopped after the outage")
    entry = wait_until(lambda: (e := node.journal.get(run["id"])) and
                       not e.in_flight and e, what="kill settled")
    assert entry.status == "killed by user"


def test_a_run_over_the_time_limit_is_ended_with_the_reason(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    node = harness.start(server, runtime, max_run_seconds=0.5)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    started = time.monotonic()
    wait_until(lambda: job.killed, what="run ended at its time limit")
    assert 0.4 <= time.monotonic() - started < 1.5
    wait_until(lambda: run["status"] == "failed", what="failure delivered")
    assert run["reason"] == "run exceeded the node's time limit of 0.5 s"
    assert run["log"] == "killed"  # the algorithm's log up to its end
    entry = node.journal.get(run["id"])
    assert entry is not None and entry.started_at is not None


@pytest.mark.parametrize(("node_limit", "task_limit", "reason"), [
    (60, 0.5, "run exceeded the task's time limit of 0.5 s"),
    (0.5, 60, "run exceeded the node's time limit of 0.5 s"),
    (None, 0.5, "run exceeded the task's time limit of 0.5 s"),
])
def test_the_shorter_of_the_node_and_task_time_limits_ends_a_run(
        harness: NodeHarness, node_limit: float | None, task_limit: float,
        reason: str) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    harness.start(server, runtime, max_run_seconds=node_limit)
    task = server.create_task("img", {2: b"{}"}, max_run_seconds=task_limit)
    run = server.run_of(task["id"], 2)
    job = runtime.wait_started(run["id"])
    started = time.monotonic()
    wait_until(lambda: job.killed, what="run ended at its time limit")
    assert 0.4 <= time.monotonic() - started < 1.5
    wait_until(lambda: run["status"] == "failed", what="failure delivered")
    assert run["reason"] == reason


def test_the_time_limit_counts_from_the_start_across_a_restart(harness: NodeHarness) -> None:
    server, runtime = server_with_node(), FakeRuntime()
    node = harness.start(server, runtime, max_run_seconds=60)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    job = runtime.wait_started(run["id"])
    wait_until(lambda: run["status"] == "active", what="active")
    harness.crash(node)
    harness.start(server, runtime, max_run_seconds=0.3)  # the run is already older
    wait_until(lambda: job.killed, timeout=2, what="run ended by the restarted node")
    wait_until(lambda: run["status"] == "failed", what="failure delivered")


def test_event_loop_comes_back_when_the_server_says(harness: NodeHarness) -> None:
    # Prepare: the server turns the node's long-polls away for load, asking for 0.2 s
    server = server_with_node()
    harness.start(server, FakeRuntime(auto=lambda spec: (0, b"2", "")))
    wait_until(lambda: server.event_polls, what="first poll")
    server.event_refusals.extend([
        errors.RateLimitedError("too many concurrent long-polls",
                                details={"retry_after_seconds": 0.2}),
        errors.ServerBusyError("retry later", details={"retry_after_seconds": 0.2}),
    ])
    # Execute: a run arrives meanwhile
    task = server.create_task("img", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="run done after the refusals")
    # Assert: each refused poll was followed by the wait asked for, not a spin
    polls = list(server.event_polls)
    refused = [i for i, (_, was_refused) in enumerate(polls) if was_refused]
    assert len(refused) == 2 and refused[-1] + 1 < len(polls)
    for i in refused:
        assert polls[i + 1][0] - polls[i][0] >= 0.2


def test_event_polls_answered_at_once_do_not_spin(harness: NodeHarness) -> None:
    # Prepare: a busy server answers every event poll at once instead of holding it
    server = server_with_node()
    server.busy = True
    harness.start(server, FakeRuntime(auto=lambda spec: (0, b"2", "")))
    wait_until(lambda: server.event_polls, what="first poll")
    # Execute: a run arrives meanwhile
    task = server.create_task("img", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="run done while short-polling")
    time.sleep(1.5)
    # Assert: about one poll a second, not hundreds
    polls = [at for at, _ in server.event_polls]
    span = polls[-1] - polls[0]
    assert len(polls) <= span / 0.9 + 4, (len(polls), span)  # + start-up and news


def test_version_check() -> None:
    check_version({"version": "0.1.5", "api": 1}, "0.1.0")
    check_version({"version": "0.2.0", "api": 1}, "0.1.0")  # minor skew: warning only
    with pytest.raises(VersionMismatchError, match="upgrade the node"):
        check_version({"version": "1.0.0", "api": 1}, "0.1.0")
    with pytest.raises(VersionMismatchError, match="upgrade the server"):
        check_version({"version": "0.9.0", "api": 1}, "1.0.0")


def test_incompatible_server_refuses_start(harness: NodeHarness) -> None:
    server = server_with_node(version="9.0.0")
    with pytest.raises(VersionMismatchError):
        harness.start(server, FakeRuntime())


def test_output_is_json_checked_not_reencoded(harness: NodeHarness) -> None:
    payload = json.dumps({"a": [1, 2, 3], "b": "x" * 1000}).encode()
    server = server_with_node()
    harness.start(server, FakeRuntime(auto=lambda spec: (0, payload, "")))
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="completed")
    assert decoded_result(run) == payload


class _SocketRuntime(FakeRuntime):
    """A runtime whose algorithms reach the proxy only through its Unix socket (Docker)."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__()
        self.socket_path = socket_path

    def proxy_socket(self) -> Path | None:
        return self.socket_path


def test_with_a_proxy_socket_the_proxy_listens_on_no_tcp_port(harness: NodeHarness) -> None:
    socket_path = Path("/tmp") / f"v6-daemon-{os.getpid()}" / "proxy.sock"  # AF_UNIX limit
    node = harness.start(server_with_node(), _SocketRuntime(socket_path))
    try:
        assert node.proxy is not None and node.proxy.port == 0
        assert socket_path.is_socket()
        assert node.executor is not None and node.executor.proxy_port == 0
    finally:
        shutil.rmtree(socket_path.parent, ignore_errors=True)


def test_without_one_it_listens_on_loopback_for_process_algorithms(
        harness: NodeHarness) -> None:
    node = harness.start(server_with_node(), FakeRuntime())
    assert node.proxy is not None and node.proxy.host == "127.0.0.1" and node.proxy.port > 0
    assert node.executor is not None and node.executor.proxy_port == node.proxy.port


def test_the_audit_trail_head_is_published_and_a_truncation_is_not_hidden(
        harness: NodeHarness) -> None:
    from v6lib.node.audit import ChainHead, verify

    server, runtime = server_with_node(), FakeRuntime(auto=lambda spec: (0, b"[]", ""))
    node = harness.start(server, runtime, sweep_interval=0.05)
    for _ in range(2):
        task = server.create_task("img:1", {2: b'{"method": "m"}'})
        run = server.run_of(task["id"], 2)
        wait_until(lambda run=run: run["status"] == "completed", what="completed run")
    record = server.nodes[node.identity.node_id]
    wait_until(lambda: record.get("audit_count") == 2, what="published head")
    assert record["audit_head"] == verify(node.options.audit_path).head.hash
    # a trail cut back to one entry still verifies alone, not against the server's head
    path = node.options.audit_path
    path.write_text(path.read_text().splitlines(keepends=True)[0])
    assert verify(path).ok
    result = verify(path, ChainHead(record["audit_count"], record["audit_head"]))
    assert result.entry == 2 and "entries were removed" in str(result.problem)
