"""The outbox alone: idempotent delivery, conflict interpretation, refusals, outages."""

from __future__ import annotations

from v6lib.node.journal import Journal, LocalState
from v6lib.node.outbox import Outbox
from v6lib.node.server_link import ServerLink

from .fakes import FakeServer, FakeTransport


def setup(status: str = "active") -> tuple[FakeServer, Journal, Outbox, int]:
    server = FakeServer()
    server.add_node(2, api_key="k")
    task = server.create_task("img", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    run["status"] = status
    link = ServerLink(FakeTransport(server), "k")
    link.login()
    journal = Journal(":memory:")
    journal.receive(run["id"], task_id=task["id"])
    return server, journal, Outbox(journal, link), run["id"]


def test_delivers_and_marks_uploaded_only_after_success() -> None:
    server, journal, outbox, run_id = setup()
    journal.update(run_id, active_reported=True)
    journal.finish(run_id, "completed", result=b"{}", log="ok")
    server.down = True
    assert outbox.flush() is False
    entry = journal.get(run_id)
    assert entry is not None and entry.state is LocalState.FINISHED and entry.attempts == 1
    server.down = False
    assert outbox.flush() is True
    assert journal.get(run_id).state is LocalState.UPLOADED  # type: ignore[union-attr]
    assert server.runs[run_id]["status"] == "completed"
    assert outbox.flush() is True  # nothing left, nothing re-sent
    assert len(server.accepted_terminal_patches(run_id)) == 1


def test_missing_intermediate_states_are_reported_first() -> None:
    server, journal, outbox, run_id = setup(status="pending")
    journal.finish(run_id, "crashed", reason="gone")
    assert outbox.flush()
    assert [b["status"] for r, b, _ in server.patches if r == run_id] == [
        "initializing", "active", "crashed"]


def test_conflict_with_same_terminal_status_counts_as_delivered() -> None:
    _server, journal, outbox, run_id = setup(status="failed")
    journal.update(run_id, active_reported=True)
    journal.finish(run_id, "failed", reason="x")
    assert outbox.flush()
    assert journal.get(run_id).state is LocalState.UPLOADED  # type: ignore[union-attr]


def test_other_terminal_status_on_server_is_dropped_with_note() -> None:
    _server, journal, outbox, run_id = setup(status="crashed")
    journal.update(run_id, active_reported=True)
    journal.finish(run_id, "completed", result=b"1")
    assert outbox.flush()
    entry = journal.get(run_id)
    assert entry is not None and entry.state is LocalState.DROPPED
    assert entry.note == "the server already holds terminal status 'crashed'"


def test_deleted_run_is_dropped() -> None:
    server, journal, outbox, run_id = setup()
    journal.finish(run_id, "completed", result=b"1")
    del server.runs[run_id]
    assert outbox.flush()
    assert journal.get(run_id).note.startswith("the server no longer knows")  # type: ignore[union-attr]


def test_refused_result_is_reported_as_failed() -> None:
    from v6lib.errors import PayloadTooLargeError

    server, journal, outbox, run_id = setup()
    journal.update(run_id, active_reported=True)
    journal.finish(run_id, "completed", result=b"x" * 10)
    original = server._patch_run

    def refuse_results(rid: int, body: dict[str, object]) -> object:
        if "result" in body:
            raise PayloadTooLargeError("result above 1 byte")
        return original(rid, body)

    server._patch_run = refuse_results  # type: ignore[method-assign]
    assert outbox.flush()
    run = server.runs[run_id]
    assert run["status"] == "failed"
    assert run["reason"] == "the server refused the run's result: result above 1 byte"


def test_outbox_prunes_the_journal_at_most_once_per_interval() -> None:
    from datetime import datetime, timedelta

    now = [datetime(2026, 1, 1)]
    server = FakeServer()
    server.add_node(2, api_key="k")
    link = ServerLink(FakeTransport(server), "k")
    link.login()
    journal = Journal(":memory:", clock=lambda: now[0], retention=timedelta(days=1))
    outbox = Outbox(journal, link, prune_interval=3600.0)
    for run_id in (1, 2):
        journal.receive(run_id, task_id=1)
        journal.finish(run_id, "failed", reason="x")
        journal.mark_dropped(run_id, "gone")
    now[0] += timedelta(days=2)
    assert outbox.maybe_prune() == 2  # the first call prunes
    journal.receive(3, task_id=1)
    journal.finish(3, "failed", reason="x")
    journal.mark_dropped(3, "gone")
    now[0] += timedelta(days=2)
    assert outbox.maybe_prune() == 0  # within the interval: not again
    assert journal.get(3) is not None
    outbox.prune_interval = 0.0
    assert outbox.maybe_prune() == 1 and journal.get(3) is None


def test_a_failing_prune_never_stops_uploads() -> None:
    import threading

    from sqlalchemy.exc import OperationalError

    server, journal, outbox, run_id = setup()
    journal.update(run_id, active_reported=True)
    calls: list[int] = []

    def broken(**_: object) -> int:
        calls.append(1)
        raise OperationalError("DELETE", {}, Exception("database is locked"))

    journal.prune = broken  # type: ignore[method-assign]
    outbox.prune_interval = 0.0  # every round
    stop = threading.Event()
    thread = threading.Thread(target=outbox.run_forever, args=(stop,), daemon=True)
    thread.start()
    for _ in range(500):
        if calls:
            break
        stop.wait(0.01)
    assert calls  # the first round tried (and failed) to prune
    journal.finish(run_id, "completed", result=b"{}")
    outbox.notify()
    for _ in range(500):
        if server.runs[run_id]["status"] == "completed":
            break
        stop.wait(0.01)
    stop.set()
    outbox.notify()
    thread.join(5)
    assert not thread.is_alive()
    assert server.runs[run_id]["status"] == "completed"
    entry = journal.get(run_id)
    assert entry is not None and entry.state is LocalState.UPLOADED and entry.result is None
