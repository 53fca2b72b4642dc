"""The in-memory task store: job ids, the run state machine, and waiting without polling."""

from __future__ import annotations

import threading
import time

import pytest

from v6lib.errors import ConflictError, NotFoundError
from v6lib.mock.store import TaskStore
from v6lib.schemas.run_status import RunStatus


def _task(store: TaskStore, orgs: list[int], parent=None):  # type: ignore[no-untyped-def]
    return store.add_task(
        name="t",
        description="",
        collaboration_id=1,
        init_org_id=1,
        parent=parent,
        databases=[{"label": "default"}],
        inputs=dict.fromkeys(orgs, b"{}"),
    )


def _finish(store: TaskStore, run, status: RunStatus = RunStatus.COMPLETED) -> None:  # type: ignore[no-untyped-def]
    store.transition(run, RunStatus.INITIALIZING)
    store.transition(run, RunStatus.ACTIVE)
    store.transition(run, status, result=b"1", log="done")


def test_subtasks_inherit_the_job_id_of_the_top_task() -> None:
    store = TaskStore()
    top, _ = _task(store, [1])
    child, _ = _task(store, [1, 2], parent=top)
    grandchild, runs = _task(store, [2], parent=child)

    assert (top.job_id, child.job_id, grandchild.job_id) == (top.id, top.id, top.id)
    assert grandchild.parent_id == child.id
    assert [run.organization_id for run in store.runs(child.id)] == [1, 2]
    assert runs[0].status is RunStatus.PENDING


def test_illegal_transition_is_a_conflict() -> None:
    store = TaskStore()
    _, [run] = _task(store, [1])

    with pytest.raises(ConflictError, match="cannot go from 'pending' to 'completed'"):
        store.transition(run, RunStatus.COMPLETED)


def test_unknown_task_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="task 9 does not exist"):
        TaskStore().task(9)


def test_task_status_is_derived_from_runs() -> None:
    store = TaskStore()
    task, runs = _task(store, [1, 2])
    assert store.status(task.id) == "pending"
    _finish(store, runs[0])
    assert store.status(task.id) == "active"
    _finish(store, runs[1], RunStatus.FAILED)
    assert store.status(task.id) == "failed"


def _end(store: TaskStore, run, status: RunStatus) -> None:  # type: ignore[no-untyped-def]
    """Take a pending run to ``status`` along a legal path."""
    if status in (RunStatus.KILLED, RunStatus.NOT_ALLOWED):
        store.transition(run, status, reason="stopped")
        return
    _finish(store, run, status)


@pytest.mark.parametrize(("first", "second", "expected"), [
    (RunStatus.COMPLETED, RunStatus.CRASHED, RunStatus.CRASHED),
    (RunStatus.FAILED, RunStatus.KILLED, RunStatus.KILLED),
    (RunStatus.COMPLETED, RunStatus.NOT_ALLOWED, RunStatus.NOT_ALLOWED),
])
def test_task_status_follows_the_servers_rule(first: RunStatus, second: RunStatus,
                                              expected: RunStatus) -> None:
    """The drift the probe found: the mock said 'failed' where the server said these."""
    store = TaskStore()
    task, runs = _task(store, [1, 2])
    store.transition(runs[0], RunStatus.INITIALIZING)
    assert store.status(task.id) == "active"  # the mock once said 'initializing'
    store.transition(runs[0], RunStatus.ACTIVE)
    store.transition(runs[0], first, log="x")
    _end(store, runs[1], second)
    assert store.status(task.id) == expected


def test_wait_wakes_up_when_the_last_run_ends() -> None:
    store = TaskStore()
    task, runs = _task(store, [1, 2])
    woke: list[float] = []

    def waiter() -> None:
        store.wait(task.id, timeout=5)
        woke.append(time.monotonic())

    thread = threading.Thread(target=waiter)
    thread.start()
    _finish(store, runs[0])
    time.sleep(0.05)
    assert not woke  # one run still pending
    finished_at = time.monotonic()
    _finish(store, runs[1])
    thread.join(timeout=5)

    assert woke and woke[0] - finished_at < 0.5


def test_wait_times_out_with_false() -> None:
    store = TaskStore()
    task, _ = _task(store, [1])

    assert store.wait(task.id, timeout=0.05) is False
