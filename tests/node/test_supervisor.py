"""No thread of the node dies silently: failures are logged once, retried, and a failure
that lasts stops the node with a non-zero exit."""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

from v6lib.errors import NodeHaltedError
from v6lib.node.daemon import Node
from v6lib.node.retry import Backoff
from v6lib.node.supervisor import Supervisor, log_uncaught_thread_exceptions

from .conftest import NodeHarness, wait_until
from .fakes import FakeRuntime, FakeServer, FakeTransport

FAST = Backoff(base=0.001, max_delay=0.005)


def test_a_failing_thread_is_logged_once_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 4:
            raise OSError(28, "No space left on device")

    supervisor = Supervisor(threading.Event(), backoff=FAST)
    supervisor.spawn(flaky, name="flaky").join(5)
    assert len(calls) == 4
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "thread flaky failed" in errors[0].getMessage()
    assert errors[0].exc_info is not None  # the traceback goes to the node's log
    assert supervisor.fatal is None


def test_a_lasting_failure_stops_the_node(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]

    def broken() -> None:
        now[0] += 10.0
        raise RuntimeError("journal unreadable")

    stop = threading.Event()
    supervisor = Supervisor(stop, backoff=FAST, give_up_after=30.0, clock=lambda: now[0])
    supervisor.spawn(broken, name="broken").join(5)
    assert stop.is_set()
    assert supervisor.fatal is not None
    assert "thread broken kept failing" in supervisor.fatal
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)


def test_a_full_disk_never_stops_the_node() -> None:
    now = [0.0]
    calls: list[int] = []

    def disk_full_for_a_long_time() -> None:
        now[0] += 100.0
        calls.append(1)
        if len(calls) < 20:
            raise OSError(28, "No space left on device")

    stop = threading.Event()
    supervisor = Supervisor(stop, backoff=FAST, give_up_after=30.0, clock=lambda: now[0])
    supervisor.spawn(disk_full_for_a_long_time, name="watcher").join(5)
    assert len(calls) == 20
    assert not stop.is_set() and supervisor.fatal is None


def test_outbox_survives_a_journal_write_failure_after_the_patch(
    harness: NodeHarness,
) -> None:
    server = FakeServer()
    server.add_node(2, api_key="key2")
    node = harness.start(server, FakeRuntime(auto=lambda spec: (0, b"1", "")))
    original = node.journal.mark_uploaded
    failures: list[int] = []

    def full_once(run_id: int) -> None:
        if not failures:
            failures.append(run_id)
            raise sqlite3.OperationalError("database or disk is full")
        original(run_id)

    node.journal.mark_uploaded = full_once  # type: ignore[method-assign]
    first = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: failures, what="the failed journal write")
    second = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: all((e := node.journal.get(r["id"])) and e.state.value == "uploaded"
                           for r in (first, second)), what="both delivered")
    assert first["status"] == second["status"] == "completed"
    assert len(server.accepted_terminal_patches(first["id"])) == 1


def test_serve_exits_with_an_error_when_a_thread_keeps_failing(
    harness: NodeHarness,
) -> None:
    server = FakeServer()
    server.add_node(2, api_key="key2")
    node = Node(harness.options(2, "key2", give_up_after=0.2),
                transport=FakeTransport(server), runtime=FakeRuntime(), backoff=FAST)

    def outbox_broken(stop: threading.Event) -> None:
        raise OSError(5, "Input/output error")

    node.outbox.run_forever = outbox_broken  # type: ignore[method-assign]
    with pytest.raises(NodeHaltedError, match="thread node-outbox kept failing") as raised:
        node.serve()
    assert raised.value.exit_code != 0


def test_any_thread_ending_in_an_exception_is_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)  # restored after
    log_uncaught_thread_exceptions()

    def broken() -> None:
        raise OSError(28, "No space left on device")

    thread = threading.Thread(target=broken, name="some-library-thread")
    thread.start()
    thread.join(5)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "thread some-library-thread ended by an uncaught exception" in record.getMessage()
    assert record.exc_info is not None
