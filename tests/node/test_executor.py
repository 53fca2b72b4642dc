"""The executor's path from "pending" to a started run: one claim, then start, then active.

The executor is driven directly (no daemon loop) against the fake server, so every call
it makes to the server, and every journal step, can be asserted.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from v6lib.errors import ServerUnavailableError
from v6lib.node.executor import Identity, RunExecutor
from v6lib.node.journal import Journal, LocalState
from v6lib.node.keys import NodeKeys
from v6lib.node.options import NodeOptions
from v6lib.node.outbox import Outbox
from v6lib.node.retry import Backoff
from v6lib.node.run_files import run_paths
from v6lib.node.runtime.base import JobDatabase
from v6lib.node.server_link import ServerLink
from v6lib.rules.failures import failure_record
from v6lib.schemas.run_status import RunStatus

from .conftest import wait_until
from .fakes import FakeRuntime, FakeServer, FakeTransport

ORG = 2


@dataclass
class Setup:
    server: FakeServer
    runtime: FakeRuntime
    executor: RunExecutor
    journal: Journal
    outbox: Outbox
    link: ServerLink

    def run(self, image: str = "img:1", **task: Any) -> dict[str, Any]:
        created = self.server.create_task(image, {ORG: b'{"method": "m"}'}, **task)
        return self.server.run_of(created["id"], ORG)

    def close(self) -> None:
        """Stop the watchers before the journal they write to goes away."""
        self.executor.stop.set()
        for handle in list(self.runtime.jobs):
            self.runtime.kill(handle)  # ends the watchers' waits at once
        for thread in list(self.executor.watchers.values()):
            thread.join(5)
        self.journal.close()

    def calls_for(self, run_id: int) -> list[tuple[str, str]]:
        """The executor's calls about one run (the fake records every authenticated call)."""
        return [(m, p) for m, p in self.server.calls if f"/run/{run_id}" in p
                or p.startswith(("/task", "/token"))]


def make_setup(tmp_path: Path, runtime: FakeRuntime | None = None,
               **options: Any) -> Setup:
    server = FakeServer()
    server.add_node(1, api_key="key1")
    node_id = server.add_node(ORG, api_key="key2")
    link = ServerLink(FakeTransport(server), "key2")
    link.login()
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    opts = NodeOptions(name="node2", api_key="key2", server_api_url="http://fake/api",
                       task_dir=tmp_path / "node2",
                       databases={"default": JobDatabase("default", str(data), "csv")},
                       **options)
    journal = Journal(":memory:")
    backoff = Backoff(base=0.001, max_delay=0.005)
    outbox = Outbox(journal, link, backoff=backoff)
    runtime = runtime or FakeRuntime()
    executor = RunExecutor(
        options=opts, identity=Identity(node_id, ORG, 1, encrypted=False), journal=journal,
        link=link, keys=NodeKeys(encrypted=False, private_key=None,
                                 organization_getter=link.organization),
        runtime=runtime, outbox=outbox, proxy_port=0, stop=threading.Event(),
        backoff=backoff)
    return Setup(server, runtime, executor, journal, outbox, link)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    built = make_setup(tmp_path)
    yield built
    built.close()


def test_pre_start_path_is_one_claim_then_active(setup: Setup) -> None:
    run = setup.run(databases=[{"label": "default", "query": "select 1"}])
    setup.server.calls.clear()
    setup.executor.handle_run(dict(run))
    job = setup.runtime.wait_started(run["id"])
    assert setup.calls_for(run["id"]) == [("POST", f"/run/{run['id']}/claim"),
                                          ("PATCH", f"/run/{run['id']}")]
    assert run["status"] == "active" and run["node_id"] == setup.executor.identity.node_id
    task = setup.server.tasks[run["task_id"]]
    entry = setup.journal.get(run["id"])
    assert entry is not None and entry.state is LocalState.STARTED
    assert (entry.task_id, entry.job_id, entry.task_uid, entry.image, entry.init_org_id) == \
        (task["id"], task["job_id"], task["uid"], "img:1", 1)
    assert entry.active_reported
    assert job.spec.input_file.read_bytes() == b'{"method": "m"}'
    assert job.spec.token_file.read_bytes() == f"container-{run['id']}".encode()
    assert job.spec.databases[0].query == "select 1"


def test_the_run_is_journaled_before_the_server_hears_of_it(setup: Setup) -> None:
    run = setup.run()
    seen: list[Any] = []
    claim = setup.link.claim_run

    def watching_claim(run_id: int) -> dict[str, Any]:
        seen.append(setup.journal.get(run_id))
        return claim(run_id)

    setup.link.claim_run = watching_claim  # type: ignore[method-assign]
    setup.executor.handle_run(dict(run))
    assert seen[0] is not None and seen[0].state is LocalState.RECEIVED
    assert seen[0].task_id == run["task_id"]


def test_policy_refusal_is_reported_not_allowed_from_initializing(tmp_path: Path) -> None:
    built = make_setup(tmp_path, allowed_images=(r"harbor\.example/.*",))
    run = built.run("evil:1")
    built.executor.handle_run(dict(run))
    assert built.runtime.started == []
    entry = built.journal.get(run["id"])
    assert entry is not None and entry.status == RunStatus.NOT_ALLOWED.value
    assert entry.reason == "image 'evil:1' refused by node 'node2': not in allowed_images"
    assert built.outbox.flush()
    assert run["status"] == "not allowed"
    assert [b["status"] for r, b, _ in built.server.patches if r == run["id"]] == [
        "initializing", "not allowed"]
    built.close()


@pytest.mark.parametrize("how", ["killed", "taken", "finished"])
def test_a_run_the_server_refuses_to_hand_out_is_dropped_unstarted(setup: Setup,
                                                                   how: str) -> None:
    run = setup.run()
    if how == "killed":
        setup.server.kill_task(run["task_id"])
    elif how == "taken":
        run.update(status="initializing", node_id=999)
    else:
        run.update(status="completed")
    offered = {**run, "status": "pending"}  # the node's view may be stale
    setup.executor.handle_run(offered)
    assert setup.runtime.started == []
    entry = setup.journal.get(run["id"])
    assert entry is not None and entry.state is LocalState.DROPPED
    assert entry.note is not None and "refused the claim" in entry.note
    assert setup.server.claims == [(run["id"], 409)]
    assert [p for p in setup.server.patches if p[0] == run["id"]] == []
    setup.executor.handle_run(offered)  # offered again: never claimed again
    assert setup.server.claims == [(run["id"], 409)]


def test_a_run_of_another_organization_is_dropped_on_a_403(setup: Setup) -> None:
    created = setup.server.create_task("img:1", {1: b"{}"})
    run = setup.server.run_of(created["id"], 1)
    setup.executor.handle_run({**run, "organization_id": ORG})  # a forged offer
    assert setup.runtime.started == [] and run["status"] == "pending"
    entry = setup.journal.get(run["id"])
    assert entry is not None and entry.state is LocalState.DROPPED
    assert "not this node's run" in str(entry.note)


def test_a_lost_claim_answer_is_claimed_again_and_started_once(setup: Setup) -> None:
    run = setup.run()
    setup.server.lose_claim_responses = 1
    setup.executor.handle_run(dict(run))
    setup.runtime.wait_started(run["id"])
    assert setup.server.claims == [(run["id"], 200), (run["id"], 200)]
    assert setup.runtime.started == [run["id"]]
    statuses = [b["status"] for r, b, _ in setup.server.patches if r == run["id"]]
    assert statuses == ["initializing", "active"]


def test_server_away_leaves_the_run_received_for_the_next_sweep(setup: Setup) -> None:
    run = setup.run()
    setup.server.down = True
    with pytest.raises(ServerUnavailableError):
        setup.executor.handle_run(dict(run))
    entry = setup.journal.get(run["id"])
    assert entry is not None and entry.state is LocalState.RECEIVED
    setup.server.down = False
    setup.executor.handle_run(dict(run))
    setup.runtime.wait_started(run["id"])
    assert setup.runtime.started == [run["id"]]


@pytest.mark.parametrize("local", [LocalState.RECEIVED, LocalState.STARTING])
def test_restart_resumes_a_run_claimed_before_the_crash(tmp_path: Path,
                                                        local: LocalState) -> None:
    """The node died after claiming (and maybe before starting): a new node resumes it."""
    first = make_setup(tmp_path)
    run = first.run()
    first.journal.receive(run["id"], task_id=run["task_id"])
    first.link.claim_run(run["id"])
    if local is LocalState.STARTING:
        first.journal.mark_starting(run["id"])
    assert run["status"] == "initializing"
    again = replace(first)  # same server, journal and runtime; a new executor and login
    link = ServerLink(FakeTransport(first.server), "key2")
    link.login()
    again.executor = RunExecutor(
        options=first.executor.options, identity=first.executor.identity,
        journal=first.journal, link=link, keys=first.executor.keys, runtime=first.runtime,
        outbox=first.outbox, proxy_port=0, stop=threading.Event(),
        backoff=first.executor.backoff)
    again.executor.handle_run(dict(run))
    again.runtime.wait_started(run["id"])
    assert again.runtime.started == [run["id"]] and run["status"] == "active"
    assert [c for c in again.server.claims if c[0] == run["id"]] == [
        (run["id"], 200), (run["id"], 200)]
    statuses = [b["status"] for r, b, _ in again.server.patches if r == run["id"]]
    assert statuses == ["initializing", "active"]
    first.executor.stop.set()
    again.close()  # the journal is shared: closed once, after the watcher stopped


def test_a_run_is_never_started_twice(setup: Setup) -> None:
    run = setup.run()
    setup.executor.handle_run(dict(run))
    setup.runtime.wait_started(run["id"])
    claims = list(setup.server.claims)
    setup.executor.handle_run(dict(run))
    setup.executor.handle_run({**run, "status": "pending"})
    assert setup.runtime.started == [run["id"]]
    assert setup.server.claims == claims


def test_killed_while_being_claimed_is_not_started(setup: Setup) -> None:
    run = setup.run()
    claim = setup.link.claim_run

    def claim_then_kill(run_id: int) -> dict[str, Any]:
        answer = claim(run_id)
        setup.executor.kill_run(run_id)  # a task_killed event arrives meanwhile
        return answer

    setup.link.claim_run = claim_then_kill  # type: ignore[method-assign]
    setup.executor.handle_run(dict(run))
    assert setup.runtime.started == []
    entry = setup.journal.get(run["id"])
    assert entry is not None and entry.status == RunStatus.KILLED.value
    task = setup.server.tasks[run["task_id"]]
    assert not run_paths(setup.executor.options.task_dir, task["job_id"],
                         run["id"]).run_dir.exists()


def test_the_result_follows_active(tmp_path: Path) -> None:
    built = make_setup(tmp_path, runtime=FakeRuntime(auto=lambda spec: (0, b'{"a": 1}', "")))
    run = built.run()
    built.executor.handle_run(dict(run))
    wait_until(lambda: (e := built.journal.get(run["id"])) and e.state is LocalState.FINISHED,
               what="outcome journaled")
    assert built.outbox.flush()
    assert [b["status"] for r, b, _ in built.server.patches if r == run["id"]] == [
        "initializing", "active", "completed"]
    built.close()


def test_an_events_fields_are_enough_to_start_a_run(setup: Setup) -> None:
    """The claim answers the run with its input: no GET /run/{id} is needed first."""
    run = setup.run()
    offered = {"id": run["id"], "task_id": run["task_id"], "organization_id": ORG,
               "status": "pending"}
    setup.executor.handle_run(offered)
    job = setup.runtime.wait_started(run["id"])
    assert job.spec.input_file.read_bytes() == b'{"method": "m"}'


def _final_report(built: Setup) -> dict[str, Any]:
    """Run one task to its end and flush: what the node last sent about the run."""
    run = built.run()
    built.executor.handle_run(dict(run))
    wait_until(lambda: (e := built.journal.get(run["id"])) and e.state is
               LocalState.FINISHED, what="outcome journaled")
    assert built.outbox.flush()
    return [b for r, b, _ in built.server.patches if r == run["id"]][-1]


@pytest.mark.parametrize("share", [True, False])
def test_share_algorithm_logs_decides_whether_the_server_gets_the_log(
        tmp_path: Path, share: bool, caplog: pytest.LogCaptureFixture) -> None:
    failure = failure_record("DataError: column x is empty", 1)
    built = make_setup(tmp_path, runtime=FakeRuntime(
        auto=lambda spec: (1, failure, "reading site.csv\nrow 17: x is empty")),
        share_algorithm_logs=share)
    with caplog.at_level("INFO", logger="v6lib.node.executor"):
        final = _final_report(built)
    assert final["status"] == "failed"
    if share:
        assert final["log"] == "reading site.csv\nrow 17: x is empty"
    else:
        assert "log" not in final
        assert "row 17: x is empty" in caplog.text  # kept in the node's own log
    assert final["reason"] == "DataError: column x is empty"  # sent either way
# -- what a hostile algorithm leaves behind -----------------------------------------------
SECRET = '{"secret": "a file of the host the node must never upload"}'


def _plant(kind: str, secret: Path) -> Any:
    """An ``auto`` for the fake runtime: the algorithm replaces its output and exits 0."""
    def finish(spec: Any) -> tuple[int, bytes | None, str]:
        output = spec.output_file
        output.unlink(missing_ok=True)
        if kind == "link to a host file":
            output.symlink_to(secret)
        elif kind == "link to /dev/zero":
            output.symlink_to("/dev/zero")
        elif kind == "fifo":
            os.mkfifo(output)
        elif kind == "hard link":
            (output.parent / "mine.json").write_text("[1]")
            os.link(output.parent / "mine.json", output)
        elif kind == "directory":
            output.mkdir()
        elif kind == "too big":
            output.write_bytes(b"[" + b"1," * 600 + b"1]")
        return 0, None, "planted"
    return finish


@pytest.mark.parametrize(("kind", "reason"), [
    ("link to a host file", "the output file is a symbolic link; the node only reads "
                            "regular files the algorithm wrote itself"),
    ("link to /dev/zero", "the output file is a symbolic link"),
    ("fifo", "the output file is a named pipe (FIFO)"),
    ("hard link", "the output file has 2 hard links"),
    ("directory", "the output file is a directory"),
    ("too big", "the output file holds 1203 bytes, more than the 1000 bytes the node accepts"),
])
def test_a_hostile_output_ends_the_run_and_the_node_carries_on(
        tmp_path: Path, kind: str, reason: str) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    runtime = FakeRuntime(auto=_plant(kind, secret))
    built = make_setup(tmp_path, runtime=runtime, max_output_bytes=1000)
    run = built.run()
    built.executor.handle_run(dict(run))
    wait_until(lambda: (e := built.journal.get(run["id"])) and e.state is LocalState.FINISHED,
               timeout=10, what="outcome journaled")
    entry = built.journal.get(run["id"])
    assert entry is not None and entry.status == RunStatus.UNEXPECTED_OUTPUT.value
    assert entry.reason is not None and entry.reason.startswith(reason), entry.reason
    assert entry.result is None
    assert built.outbox.flush()
    assert run["status"] == "unexpected output" and run["result"] is None
    assert "secret" not in str(run)
    runtime.auto = lambda spec: (0, b'{"fine": true}', "")
    following = built.run()
    built.executor.handle_run(dict(following))
    wait_until(lambda: (e := built.journal.get(following["id"])) and
               e.status == RunStatus.COMPLETED.value, what="the next run completed")
    built.close()


def test_the_writable_folder_holds_only_the_output(setup: Setup) -> None:
    run = setup.run()
    setup.executor.handle_run(dict(run))
    spec = setup.runtime.wait_started(run["id"]).spec
    assert list(spec.output_file.parent.iterdir()) == []
    assert spec.input_file.parent != spec.output_file.parent
    assert spec.token_file.parent != spec.output_file.parent


def test_links_left_by_an_earlier_start_are_never_written_through(setup: Setup,
                                                                  tmp_path: Path) -> None:
    """The node died after starting a container; its algorithm left links in the run's
    folder. Starting the run again must not write the input or token through them."""
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    run = setup.run()
    paths = run_paths(setup.executor.options.task_dir, run["task_id"], run["id"])
    paths.output_file.parent.mkdir(parents=True)
    for planted in (paths.input_file, paths.token_file, paths.output_file):
        planted.symlink_to(victim)
    setup.executor.handle_run(dict(run))
    spec = setup.runtime.wait_started(run["id"]).spec
    assert victim.read_text() == "untouched"
    assert not spec.input_file.is_symlink() and not spec.token_file.is_symlink()
    assert spec.input_file.read_bytes() == b'{"method": "m"}'
    assert not os.path.lexists(spec.output_file)


def test_a_replayed_task_uid_is_not_allowed(setup: Setup) -> None:
    first = setup.run(uid="replayed-uid")
    setup.executor.handle_run(dict(first))
    setup.runtime.wait_started(first["id"])
    replay = setup.run(image="other:1", uid="replayed-uid")
    setup.executor.handle_run(dict(replay))
    assert setup.runtime.started == [first["id"]]
    entry = setup.journal.get(replay["id"])
    assert entry is not None and entry.status == RunStatus.NOT_ALLOWED.value
    assert entry.reason == (f"task uid replayed-uid was already used by task "
                            f"{first['task_id']} on this node: refusing a replayed input")
    task_dir = setup.executor.options.task_dir / "jobs" / str(replay["task_id"])
    assert not task_dir.exists()  # the input was never opened nor written


def test_a_replay_that_got_the_deleted_tasks_id_is_not_allowed_either(setup: Setup) -> None:
    """Older servers on SQLite gave a re-created task the id of the deleted one."""
    first = setup.run(uid="reused-uid")
    setup.executor.handle_run(dict(first))
    setup.runtime.wait_started(first["id"])
    replay = {**first, "id": first["id"] + 100, "status": "pending"}
    setup.server.runs[replay["id"]] = replay  # the same task id, a new run
    setup.executor.handle_run(dict(replay))
    assert setup.runtime.started == [first["id"]]
    entry = setup.journal.get(replay["id"])
    assert entry is not None and entry.status == RunStatus.NOT_ALLOWED.value
    assert entry.reason == (f"task uid reused-uid was already used by task "
                            f"{first['task_id']} on this node: refusing a replayed input")


def test_the_proxy_accepts_a_runs_token_only_while_it_is_in_flight(setup: Setup) -> None:
    run = setup.run()
    token = f"container-{run['id']}"
    assert not setup.executor.tokens.accepts(token)
    setup.executor.handle_run(dict(run))
    job = setup.runtime.wait_started(run["id"])
    assert setup.executor.tokens.accepts(token)
    assert not setup.executor.tokens.accepts("container-999")
    setup.runtime.finish(job.handle, 0, b"[]")
    wait_until(lambda: (e := setup.journal.get(run["id"])) and not e.in_flight,
               what="the run ended")
    assert not setup.executor.tokens.accepts(token)


def test_a_failed_run_cannot_pass_a_host_file_off_as_its_reason(tmp_path: Path) -> None:
    from v6lib.rules.failures import failure_record

    secret = tmp_path / "secret.json"
    secret.write_bytes(failure_record("SECRET of the host", 1))
    secret.chmod(0o600)

    def fail_with_a_link(spec: Any) -> tuple[int, bytes | None, str]:
        spec.output_file.symlink_to(secret)
        return 1, None, "failing"

    built = make_setup(tmp_path, runtime=FakeRuntime(auto=fail_with_a_link))
    run = built.run()
    built.executor.handle_run(dict(run))
    wait_until(lambda: (e := built.journal.get(run["id"])) and e.state is LocalState.FINISHED,
               what="outcome journaled")
    entry = built.journal.get(run["id"])
    assert entry is not None and entry.status == RunStatus.FAILED.value
    assert entry.reason == "algorithm exited with code 1"
    built.close()


def _audited(tmp_path: Path, **options: Any) -> tuple[Setup, Path]:
    from v6lib.node.audit import AuditTrail
    from v6lib.node.run_audit import RunAudit

    built = make_setup(tmp_path, **options)
    path = tmp_path / "audit.jsonl"
    built.executor.audit = RunAudit(AuditTrail(path))
    return built, path


def _run_to_the_end(built: Setup, output: bytes) -> dict[str, Any]:
    run = built.run(databases=[{"label": "default"}])
    built.executor.handle_run(dict(run))
    job = built.runtime.wait_started(run["id"])
    built.runtime.finish(job.handle, 0, output)
    wait_until(lambda: (e := built.journal.get(run["id"])) and not e.in_flight,
               what="the run ended")
    assert built.outbox.flush()
    return run


def test_a_refused_result_never_leaves_and_the_audit_trail_says_why(tmp_path: Path) -> None:
    import hashlib

    from v6lib.node.audit import entries, verify
    from v6lib.rules.disclosure import DisclosurePolicy, DisclosureRules

    built, path = _audited(tmp_path, disclosure=DisclosureRules(
        DisclosurePolicy(min_cell_count=5)))
    try:
        refused = _run_to_the_end(built, b'{"__v6__": "v6lib.count", "n": 2}')
        assert refused["status"] == "not allowed" and not refused.get("result")
        assert refused["reason"] == "refused by min_cell_count=5 at result (count = 2)"
        passed = _run_to_the_end(built, b'{"__v6__": "v6lib.count", "n": 7}')
        assert passed["status"] == "completed"
    finally:
        built.close()
    first, second = entries(path)
    assert (first["seq"], first["run_id"], first["status"]) == (1, refused["id"], "not allowed")
    assert first["method"] == "m" and first["image"] == "img:1"
    assert first["init_org_id"] == 1 and first["databases"] == [{"label": "default",
                                                                 "query": None}]
    assert first["input_sha256"] == hashlib.sha256(b'{"method": "m"}').hexdigest()
    assert first["output_sha256"] == hashlib.sha256(
        b'{"__v6__": "v6lib.count", "n": 2}').hexdigest()
    assert first["result_sha256"] is None
    assert first["decisions"] == [
        {"check": "node policy", "allowed": True, "reason": None},
        {"check": "disclosure", "allowed": False,
         "reason": "refused by min_cell_count=5 at result (count = 2)"}]
    assert second["status"] == "completed" and second["prev"] == first["hash"]
    assert second["result_sha256"] == second["output_sha256"]  # not sealed
    assert verify(path).ok and verify(path).head.count == 2


def test_a_policy_refusal_is_audited_too(tmp_path: Path) -> None:
    from v6lib.node.audit import entries

    built, path = _audited(tmp_path, allowed_images=(r"harbor\.example/.*",))
    run = built.run("evil:1")
    built.executor.handle_run(dict(run))
    built.close()
    [entry] = entries(path)
    assert entry["status"] == "not allowed" and "input_sha256" not in entry
    assert entry["decisions"] == [{"check": "node policy", "allowed": False, "reason":
                                   "image 'evil:1' refused by node 'node2': not in "
                                   "allowed_images"}]


@pytest.mark.parametrize("share", [True, False])
def test_share_algorithm_tracebacks_decides_whether_the_log_keeps_them(
        tmp_path: Path, share: bool) -> None:
    from v6lib.rules.failures import TRACEBACK_WITHHELD

    failure = failure_record("KeyError: 'age'", 1)
    log = ("Traceback (most recent call last):\n  File \"/algorithm/a.py\", line 3, in "
           "partial\n    row = df.loc[secret_id]\nKeyError: 'age'")
    built = make_setup(tmp_path, runtime=FakeRuntime(auto=lambda spec: (1, failure, log)),
                       share_algorithm_tracebacks=share)
    final = _final_report(built)
    assert final["reason"] == "KeyError: 'age'"
    if share:
        assert final["log"] == log
    else:
        assert final["log"] == f"{TRACEBACK_WITHHELD}\nKeyError: 'age'"
    built.close()
