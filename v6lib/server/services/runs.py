"""Run use cases: list and view runs and results; the node's state-machine update and claim."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from v6lib.errors import ConflictError, PermissionDenied, ValidationError
from v6lib.rules.progress import ProgressReport, merge, progress_report
from v6lib.schemas.run import RunPatch, RunProgressIn
from v6lib.schemas.run_status import TERMINAL_STATUSES, RunStatus, can_transition
from v6lib.schemas.token import ContainerTokenIn
from v6lib.server.db.models import Collaboration, Run, Task
from v6lib.server.permissions.policy import visible_filter
from v6lib.server.services import logins
from v6lib.server.services.common import get_visible, paginate
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.sealed import require_sealed
from v6lib.server.services.sorting import order_by
from v6lib.server.services.task_status import refresh_task_status

__all__ = ["RunClaim", "claim_run", "get_run", "list_runs", "record_progress", "update_run"]


def list_runs(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
              sort: str | None = None,
              task_id: int | None = None, organization_id: int | None = None,
              node_id: int | None = None, status: str | None = None,
              job_id: int | None = None, state: str | None = None
              ) -> tuple[Sequence[Run], int]:
    """One page of the runs the caller may see; ``state="open"``: those not finished."""
    stmt = select(Run).where(visible_filter(ctx.me, "run"))
    if state == "open":
        stmt = stmt.where(Run.status.not_in([s.value for s in TERMINAL_STATUSES]))
    for column, value in ((Run.task_id, task_id), (Run.organization_id, organization_id),
                          (Run.node_id, node_id), (Run.status, status)):
        if value is not None:
            stmt = stmt.where(column == value)
    if job_id is not None:
        stmt = stmt.where(Run.task_id.in_(select(Task.id).where(Task.job_id == job_id)))
    return paginate(ctx.session, stmt.order_by(*order_by(Run, "run", sort)), page,
                    per_page)


def get_run(ctx: ServiceContext, run_id: int) -> Run:
    return get_visible(ctx.session, Run, run_id, ctx.me, "run")


def check_owner(ctx: ServiceContext, run: Run, doing: str = "update a run") -> Task:
    """The run's task, if the caller is the node of the run's organization in its
    collaboration; ``doing`` completes the refusal ("only the node ... may <doing>")."""
    me = ctx.me
    if not me.is_node:
        raise PermissionDenied(f"only the node of the run's organization may {doing}")
    task = ctx.session.get(Task, run.task_id)
    assert task is not None
    if run.organization_id != me.organization_id or \
            task.collaboration_id not in me.collaboration_ids:
        raise PermissionDenied(f"run {run.id} belongs to another node")
    return task


def update_run(ctx: ServiceContext, run_id: int, payload: RunPatch) -> Run:
    """Move a run along its state machine.

    Repeating the current terminal status is an idempotent no-op (200) so a node
    can resend a result safely; any other illegal move is a ``ConflictError`` (409).
    """
    run = get_run(ctx, run_id)
    task = check_owner(ctx, run)
    current, new = RunStatus(run.status), payload.status
    if current == new and current.is_terminal:
        return run
    if not can_transition(current, new):
        raise ConflictError(f"run {run.id} cannot go from {current.value!r} to {new.value!r}",
                            details={"current": current.value, "requested": new.value})
    if payload.result is not None and not new.is_terminal:
        raise ValidationError(
            f"result: a result is only accepted with a final status, not {new.value!r}",
            details={"field": "result"})
    collaboration = ctx.session.get(Collaboration, task.collaboration_id)
    if collaboration is not None and collaboration.encrypted:
        require_sealed(payload.result, field="result", organization_id=run.organization_id)
    now = ctx.now()
    run.status = new.value
    run.node_id = ctx.me.node_id
    if new is RunStatus.ACTIVE:
        run.started_at = now
    if new is RunStatus.PENDING:
        run.started_at = None
    if new.is_terminal:
        run.finished_at = now
    if payload.result is not None:
        run.result = payload.result
    if payload.log is not None:
        run.log = payload.log
    if payload.reason is not None:
        run.reason = payload.reason
    ctx.session.flush()
    refresh_task_status(ctx.session, task)
    ctx.events.publish(ctx.session, "run_updated", task_id=task.id, run_id=run.id,
                       organization_id=run.organization_id,
                       collaboration_id=task.collaboration_id, status=run.status)
    return run


def record_progress(ctx: ServiceContext, run_id: int, payload: RunProgressIn) -> Run:
    """Keep a running run's progress, as its node forwards it, and wake its waiters.

    The node reduced the report already; the server applies the same rule again (it
    trusts no node to have done so): whole percent, never down, the message's characters
    and length. Progress of a run that has ended is a ``ConflictError`` (409).
    """
    run = get_run(ctx, run_id)
    task = check_owner(ctx, run, "report a run's progress")
    if RunStatus(run.status).is_terminal:
        raise ConflictError(f"run {run.id} has ended ({run.status!r}); its progress is final",
                            details={"current": run.status})
    previous = None if run.progress is None else ProgressReport(
        round(run.progress * 100), run.progress_message or "")
    report = merge(previous, progress_report(payload.progress, payload.message,
                                             messages_allowed=True))
    run.progress, run.progress_message = report.fraction, report.message or None
    ctx.session.flush()
    # NOTE: a run_updated event (same status): whoever waits on the task wakes and reads it
    ctx.events.publish(ctx.session, "run_updated", task_id=task.id, run_id=run.id,
                       organization_id=run.organization_id,
                       collaboration_id=task.collaboration_id, status=run.status)
    return run


@dataclass(frozen=True)
class RunClaim:
    """What a node needs to start a run, handed out by :func:`claim_run`."""

    run: Run
    task: Task
    container_token: str


def _claim_refusal(run: Run, current: RunStatus) -> ConflictError:
    if current is RunStatus.KILLED:
        why = "was killed; it must not start"
    elif current.is_terminal:
        why = f"has already ended ({current.value!r})"
    elif current is RunStatus.ACTIVE:
        why = "is already active; it was claimed and started before"
    else:
        why = f"is {current.value!r} by node {run.node_id}, not by this node"
    return ConflictError(f"run {run.id} cannot be claimed: it {why}",
                         details={"current": current.value,
                                  "requested": RunStatus.INITIALIZING.value})


def claim_run(ctx: ServiceContext, run_id: int) -> RunClaim:
    """Move a pending run to "initializing" and hand its node what starting it needs.

    One transaction instead of the node's three calls (read the task, PATCH initializing,
    mint the container token), with the same rules as each of them: the
    ownership and state-machine checks of :func:`update_run` and those of
    :func:`~v6lib.server.services.logins.container_token`. A run already "initializing"
    by the calling node is handed out again unchanged, so a node restarted half-way
    through starting it resumes; anything else that is not pending is a 409.
    """
    # NOTE: the row lock keeps two concurrent claims of one run from both seeing
    # "pending" on PostgreSQL; SQLite writers are serialized by BEGIN IMMEDIATE.
    ctx.session.execute(select(Run.id).where(Run.id == run_id).with_for_update())
    run = get_run(ctx, run_id)
    task = check_owner(ctx, run)
    current = RunStatus(run.status)
    resuming = current is RunStatus.INITIALIZING and run.node_id == ctx.me.node_id
    if current is RunStatus.PENDING:
        run = update_run(ctx, run_id, RunPatch(status=RunStatus.INITIALIZING))
    elif not resuming:
        raise _claim_refusal(run, current)
    token = logins.container_token(ctx, ContainerTokenIn(run_id=run.id, image=task.image))
    return RunClaim(run=run, task=task, container_token=token.container_token)
