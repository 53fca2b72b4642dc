"""Which events a caller may receive, and waiting for them or for a task to finish."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from v6lib.schemas.event import EventOut
from v6lib.schemas.run_status import RunStatus
from v6lib.server.db.models import Task
from v6lib.server.events.parking import (
    EVERYTHING,
    collaboration_key,
    organization_key,
)
from v6lib.server.permissions.policy import visible_filter
from v6lib.server.permissions.principal import Principal
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.tasks import get_task

__all__ = ["event_keys", "event_matcher", "visible_events", "wait_for_events", "wait_for_task"]


def event_matcher(p: Principal) -> Any:
    """A cheap in-memory pre-filter on event records (exact for nodes).

    A node receives the events of its own organization in its collaboration. A user
    needs an ``event receive`` rule: ``global`` (every event), ``collaboration`` (events
    of its organization's collaborations) or ``organization`` (events of runs at its
    organization and of tasks it created); users and containers are narrowed further
    in SQL by ``visible_events`` (only events of tasks they may view).
    """
    if p.is_node:
        return lambda r: (r.organization_id == p.organization_id
                          and r.collaboration_id in p.collaboration_ids)
    if p.is_user:
        scopes = p.scopes("event", "receive")
        if not scopes:
            return lambda r: False
        if "global" in scopes:
            return lambda r: True
    elif "global" in p.scopes("task", "view"):
        return lambda r: True
    return lambda r: r.collaboration_id in p.collaboration_ids


def event_keys(p: Principal) -> frozenset[str]:
    """The waiter keys (``parking``) of every event ``event_matcher`` lets through.

    Kept next to the matcher: the two must agree, or a parked poll would miss events.
    """
    if p.is_node:
        return frozenset({organization_key(p.organization_id)})
    if p.is_user:
        scopes = p.scopes("event", "receive")
        if not scopes:
            return frozenset()
        if "global" in scopes:
            return frozenset({EVERYTHING})
    elif "global" in p.scopes("task", "view"):
        return frozenset({EVERYTHING})
    return frozenset(collaboration_key(c) for c in p.collaboration_ids)


def visible_events(ctx: ServiceContext, events: Sequence[EventOut]) -> list[EventOut]:
    """Keep the events whose task the caller may view (one query for the batch)."""
    me = ctx.me
    if me.is_node or not events:
        return list(events)
    task_ids = {e.task_id for e in events}
    rows = ctx.session.execute(select(Task.id, Task.init_org_id).where(
        Task.id.in_(task_ids), visible_filter(me, "task"))).all()
    initiator: dict[int, int] = dict(rows)  # type: ignore[arg-type]
    if me.is_container or me.scopes("event", "receive") & {"global", "collaboration"}:
        return [e for e in events if e.task_id in initiator]
    org = me.organization_id  # organization scope: runs at it, tasks it created
    return [e for e in events if e.task_id in initiator
            and (e.organization_id == org or initiator[e.task_id] == org)]


def _closing(hub: Any) -> bool:
    """The server is stopping: answer held requests now instead of at their timeout."""
    return bool(getattr(hub, "closed", False))


def _release(ctx: ServiceContext) -> None:
    # NOTE: never hold a database connection (or SQLite read snapshot) while long-polling.
    ctx.session.commit()


def wait_for_events(ctx: ServiceContext, hub: Any, since: int | None,
                    timeout: float, *, fresh: bool = True) -> tuple[list[EventOut], int]:
    """The events the caller may receive after ``since`` (see ``EventHub.wait``;
    ``fresh=False`` only for polls the event-loop front parks when nothing is found)."""
    match = event_matcher(ctx.me)
    _release(ctx)
    deadline = time.monotonic() + timeout
    cursor = since
    while True:
        found, cursor = hub.wait(match, cursor, max(0.0, deadline - time.monotonic()),
                                 fresh=fresh)
        events = visible_events(ctx, found)
        _release(ctx)
        if events or time.monotonic() >= deadline or _closing(hub):
            return events, cursor


def wait_for_task(ctx: ServiceContext, hub: Any, task_id: int, timeout: float) -> Task:
    """The task once all its runs are final, or as it is after ``timeout`` seconds."""
    cursor = hub.latest_id()
    task = get_task(ctx, task_id)
    deadline = time.monotonic() + timeout
    while not RunStatus(task.status).is_terminal:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or _closing(hub):
            break
        _release(ctx)
        _, cursor = hub.wait(lambda r: r.task_id == task_id, cursor, remaining)
        ctx.session.expire_all()
        task = get_task(ctx, task_id)
    return task
