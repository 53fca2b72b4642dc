"""Task use cases: create with fan-out to one run per organization, list, kill, delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, delete, exists, insert, select
from sqlalchemy.orm import lazyload

from v6lib.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from v6lib.rules.task_requests import subtask_databases, unreachable_organizations
from v6lib.rules.task_status import KILL_REASON
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task import TaskIn
from v6lib.server.db.models import Collaboration, Node, Run, Study, Task, collaboration_organization
from v6lib.server.permissions.policy import require
from v6lib.server.permissions.task_visibility import visible_task_count, visible_task_ids
from v6lib.server.services import nodes
from v6lib.server.services.common import get_visible, paginate, paginate_ids
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.sealed import require_sealed
from v6lib.server.services.sorting import order_by
from v6lib.server.services.task_status import refresh_task_status

__all__ = ["create_task", "delete_task", "descendant_ids", "get_task", "kill_node_runs",
           "kill_runs", "kill_task", "list_tasks"]


def list_tasks(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
               sort: str | None = None,
               collaboration_id: int | None = None, init_org_id: int | None = None,
               init_user_id: int | None = None, job_id: int | None = None,
               parent_id: int | None = None, study_id: int | None = None,
               status: str | None = None, name: str | None = None
               ) -> tuple[Sequence[Task], int]:
    filters = {Task.collaboration_id: collaboration_id, Task.init_org_id: init_org_id,
               Task.init_user_id: init_user_id, Task.job_id: job_id,
               Task.parent_id: parent_id, Task.study_id: study_id, Task.status: status}
    conditions = [column == value for column, value in filters.items() if value is not None]
    if name is not None:
        conditions.append(Task.name.like(f"%{name}%"))
    dialect = ctx.session.get_bind().dialect.name
    total = visible_task_count(ctx.me, "view", conditions, dialect=dialect)
    if sort:
        # NOTE: another order than by id cannot stop reading an index early: the visible
        # ids in full, then sorted
        ordered = select(Task).where(
            Task.id.in_(visible_task_ids(ctx.me, "view", conditions))
        ).order_by(*order_by(Task, "task", sort))
        return paginate(ctx.session, ordered, page, per_page, total)
    return paginate_ids(ctx.session, Task, page, per_page,
                        lambda limit: visible_task_ids(ctx.me, "view", conditions, limit=limit),
                        total)


def get_task(ctx: ServiceContext, task_id: int) -> Task:
    return get_visible(ctx.session, Task, task_id, ctx.me, "task")


def _resolve_origin(ctx: ServiceContext, payload: TaskIn) -> dict[str, int | None]:
    """Who creates the task, and for a container which job and parent it belongs to."""
    me = ctx.me
    if me.is_node:
        raise PermissionDenied("nodes cannot create tasks; use a user or container token")
    if me.is_container:
        if payload.collaboration_id not in me.collaboration_ids:
            raise PermissionDenied("a subtask must stay in the collaboration of its parent")
        if payload.image != me.image:
            raise PermissionDenied(
                f"a subtask must use the image of its parent ({me.image!r})")
        parent = ctx.session.get(Task, me.task_id)
        return {"init_org_id": me.organization_id,
                "init_user_id": parent.init_user_id if parent else None,
                "parent_id": me.task_id, "job_id": me.job_id}
    require(me, "create", "task", collaboration_id=payload.collaboration_id)
    return {"init_org_id": me.organization_id, "init_user_id": me.user_id,
            "parent_id": None, "job_id": None}


def _resolve_collaboration(ctx: ServiceContext, payload: TaskIn,
                           init_org_id: int | None) -> Collaboration:
    """The task's collaboration, after ``_require_member`` for the initiating organization.

    Membership is asked of the link table in the same statement: loading the collaboration's
    organizations to look for one would cost a statement and an object per member.
    """
    member = exists().where(collaboration_organization.c.collaboration_id == Collaboration.id,
                            collaboration_organization.c.organization_id == init_org_id)
    found = ctx.session.execute(
        select(Collaboration, member).where(Collaboration.id == payload.collaboration_id)
        .options(lazyload(Collaboration.organizations))).one_or_none()
    if found is None:
        raise NotFoundError(f"collaboration_id: no collaboration {payload.collaboration_id}",
                              details={"field": "collaboration_id"})
    collab, is_member = found
    _require_member(collab, init_org_id, is_member)
    return collab


def _require_member(collab: Collaboration, init_org_id: int | None, is_member: bool) -> None:
    """Refuse a task whose initiating organization is outside the collaboration.

    Nodes encrypt results for, and check policies against, the initiating organization;
    one outside the collaboration is invisible to them, so its task could only fail there.
    A subtask's initiator is its parent's organization, so the same rule covers it.
    """
    if init_org_id is None or not is_member:
        raise PermissionDenied(
            f"organization {init_org_id} (the task's initiator) is not a member of "
            f"collaboration {collab.id} ({collab.name!r}); only member organizations may "
            f"create tasks in it", details={"field": "collaboration_id",
                                            "organization_id": init_org_id,
                                            "collaboration_id": collab.id})


def _target_nodes(ctx: ServiceContext, payload: TaskIn) -> dict[int, int]:
    """organization id -> node id for every targeted organization, or a 400 naming the
    organizations that have no node in the collaboration (or are outside the study)."""
    wanted = [o.id for o in payload.organizations]
    # NOTE: only the targeted organizations' nodes, not every node of the collaboration
    nodes = dict(ctx.session.execute(
        select(Node.organization_id, Node.id).where(
            Node.collaboration_id == payload.collaboration_id,
            Node.organization_id.in_(wanted))).all())
    allowed = set(nodes)
    if payload.study_id is not None:
        study = ctx.session.get(Study, payload.study_id)
        if study is None or study.collaboration_id != payload.collaboration_id:
            raise ValidationError(
                f"study_id: study {payload.study_id} is not part of collaboration "
                f"{payload.collaboration_id}", details={"field": "study_id"})
        allowed &= set(study.organization_ids)
    unreachable_organizations(wanted, allowed, collaboration_id=payload.collaboration_id,
                              study=payload.study_id is not None)
    return {o: nodes[o] for o in wanted}


def _fan_out_runs(ctx: ServiceContext, task: Task, payload: TaskIn,
                  nodes: dict[int, int]) -> None:
    """One pending run per organization, and a ``run_created`` event for each.

    Why not ORM objects: the runs go in as one multi-row INSERT (and their events as
    one more) instead of a statement per organization, without the unit of work's
    bookkeeping per row; nothing in the request reads the runs back.
    """
    now = ctx.now()
    # NOTE: through the connection, so as a plain INSERT (not the ORM's bulk insert)
    rows = ctx.session.connection().execute(
        insert(Run).returning(Run.id, Run.organization_id), [
            {"task_id": task.id, "organization_id": o.id, "node_id": nodes[o.id],
             "status": RunStatus.PENDING.value, "input": o.input, "assigned_at": now}
            for o in payload.organizations]).all()
    run_ids = {org: run for run, org in rows}
    ctx.events.publish_all(ctx.session, "run_created", [
        {"task_id": task.id, "run_id": run_ids[o.id], "organization_id": o.id,
         "collaboration_id": task.collaboration_id, "status": RunStatus.PENDING.value}
        for o in payload.organizations])


def _databases(ctx: ServiceContext, payload: TaskIn) -> list[dict]:
    """The task's databases; a subtask that names none gets its parent task's.

    Algorithm code calls ``client.task.create(...)`` without databases and expects the
    subtask to run on the same data as itself, whichever client sent the request.
    """
    requested = [d.model_dump(exclude_none=True) for d in payload.databases]
    if not ctx.me.is_container:
        return requested
    parent = ctx.session.get(Task, ctx.me.task_id)
    return subtask_databases(requested if "databases" in payload.model_fields_set else None,
                             parent.databases if parent is not None else None)


def create_task(ctx: ServiceContext, payload: TaskIn) -> Task:
    origin = _resolve_origin(ctx, payload)
    collab = _resolve_collaboration(ctx, payload, origin["init_org_id"])
    nodes = _target_nodes(ctx, payload)
    if collab.encrypted:
        for org in payload.organizations:
            require_sealed(org.input, field="organizations.input", organization_id=org.id)
    # NOTE: only a uid the caller chose can be taken already (a fresh uuid4 cannot)
    uid = payload.uid or uuid.uuid4().hex
    if payload.uid and ctx.session.scalar(select(Task.id).where(Task.uid == uid)) is not None:
        raise ConflictError(f"a task with uid {uid!r} already exists")
    task = Task(uid=uid, name=payload.name, description=payload.description,
                image=payload.image, collaboration_id=collab.id, study_id=payload.study_id,
                databases=_databases(ctx, payload), max_run_seconds=payload.max_run_seconds,
                status=RunStatus.PENDING.value, created_at=ctx.now(), **origin)
    ctx.session.add(task)
    ctx.session.flush()
    if task.job_id is None:
        task.job_id = task.id
    _fan_out_runs(ctx, task, payload, nodes)
    return task


def descendant_ids(ctx: ServiceContext, task_id: int) -> list[int]:
    """``task_id`` and every task below it, breadth first (one query per level)."""
    found, level = [task_id], [task_id]
    while level:
        level = list(ctx.session.scalars(select(Task.id).where(Task.parent_id.in_(level))))
        found.extend(level)
    return found


def _unfinished_runs(task_ids: list[int] | None = None,
                     node_id: int | None = None) -> Select[Run]:
    terminal = [s.value for s in RunStatus if s.is_terminal]
    stmt = select(Run).where(Run.status.not_in(terminal))
    if task_ids is not None:
        stmt = stmt.where(Run.task_id.in_(task_ids))
    if node_id is not None:
        stmt = stmt.where(Run.node_id == node_id)
    return stmt


def kill_runs(ctx: ServiceContext, task_ids: list[int], *, node_id: int | None = None) -> int:
    """Mark unfinished runs killed and tell each organization's node to stop them
    (only those of ``node_id`` when given)."""
    runs = ctx.session.scalars(_unfinished_runs(task_ids, node_id)).all()
    now = ctx.now()
    tasks = {t.id: t for t in ctx.session.scalars(select(Task).where(Task.id.in_(task_ids)))}
    for run in runs:
        run.status = RunStatus.KILLED.value
        run.finished_at = now
        run.reason = KILL_REASON
        ctx.events.publish(ctx.session, "task_killed", task_id=run.task_id, run_id=run.id,
                           organization_id=run.organization_id,
                           collaboration_id=tasks[run.task_id].collaboration_id,
                           status=run.status)
    ctx.session.flush()
    for task in tasks.values():
        refresh_task_status(ctx.session, task)
    return len(runs)


def kill_task(ctx: ServiceContext, task_id: int) -> Task:
    """Kill the task and all its descendants; already finished runs stay as they are."""
    task = get_task(ctx, task_id)
    _require_manage(ctx, task, container_may=True)
    kill_runs(ctx, descendant_ids(ctx, task.id))
    ctx.session.flush()
    return task


def kill_node_runs(ctx: ServiceContext, node_id: int) -> list[int]:
    """Kill every unfinished run of one node; the ids of the tasks they belong to.

    The caller must be allowed to kill each of those tasks (as for ``kill_task``), else
    nothing is killed.
    """
    node = nodes.get_node(ctx, node_id)
    task_ids = sorted({run.task_id for run in ctx.session.scalars(
        _unfinished_runs(node_id=node.id))})
    for task in ctx.session.scalars(select(Task).where(Task.id.in_(task_ids))):
        _require_manage(ctx, task)
    kill_runs(ctx, task_ids, node_id=node.id)
    ctx.session.flush()
    return task_ids


def delete_task(ctx: ServiceContext, task_id: int) -> None:
    """Delete the task with its runs and subtasks, stopping whatever still runs."""
    task = get_task(ctx, task_id)
    _require_manage(ctx, task)
    ids = descendant_ids(ctx, task.id)
    kill_runs(ctx, ids)
    ctx.session.execute(delete(Run).where(Run.task_id.in_(ids)))
    for tid in reversed(ids):
        ctx.session.execute(delete(Task).where(Task.id == tid))
    ctx.session.expunge(task)


def _require_manage(ctx: ServiceContext, task: Task, *, container_may: bool = False) -> None:
    me = ctx.me
    if container_may and me.is_container and task.job_id == me.job_id:
        return  # a central algorithm may stop (not delete) its own job's tasks
    require(me, "delete", "task", organization_ids=[task.init_org_id],
            collaboration_id=task.collaboration_id, owner_id=task.init_user_id,
            job_id=task.job_id)
