"""``/task`` resources: create (fan-out), list, view, kill, delete and wait."""

from __future__ import annotations

import falcon
from pydantic import BaseModel, ConfigDict, Field

from v6lib.schemas._base import DbId
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task import TaskIn, TaskOut
from v6lib.schemas.token import Message
from v6lib.server.events.long_polls import LongPollGate
from v6lib.server.events.parking import parked, task_key
from v6lib.server.resources._base import (
    ListQuery,
    Op,
    Resource,
    held_while_waiting,
    park_until,
    parse_query,
    reply,
)
from v6lib.server.resources._crud import Creating, Deleting, Listing, Reading
from v6lib.server.services import events as event_svc
from v6lib.server.services import tasks as svc

__all__ = ["TaskCollection", "TaskItem", "TaskKill", "TaskWait"]


class TaskQuery(ListQuery):
    collaboration_id: DbId | None = None
    init_org_id: DbId | None = None
    init_user_id: DbId | None = None
    job_id: DbId | None = None
    parent_id: DbId | None = None
    study_id: DbId | None = None
    status: RunStatus | None = None
    name: str | None = None


class WaitQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout: float = Field(default=30, ge=0, le=60)


class TaskCollection(Listing, Creating):
    api = {
        "get": Op("List tasks", TaskOut, query=TaskQuery, paged=True),
        "post": Op("Create a task: one pending run per organization", TaskOut, body=TaskIn,
                   status=201, errors=(400, 403, 409)),
    }
    list_rows = staticmethod(svc.list_tasks)
    create_row = staticmethod(svc.create_task)


class TaskItem(Reading, Deleting):
    api = {
        "get": Op("One task", TaskOut, errors=(404,)),
        "delete": Op("Delete a task with its runs and subtasks", Message, errors=(403, 404)),
    }
    noun = "task"
    get_row = staticmethod(svc.get_task)
    delete_row = staticmethod(svc.delete_task)


class TaskKill(Resource):
    api = {"post": Op("Kill the task and all its descendants", TaskOut, errors=(403, 404))}

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, TaskOut.model_validate(svc.kill_task(self.ctx(req), id)))


class TaskWait(Resource):
    api = {"get": Op("Long-poll until every run of the task is final (timeout <= 60 s; a "
                     "caller holds few waits at once: 429; a busy server answers at once, "
                     "with Retry-After)", TaskOut, query=WaitQuery, errors=(404, 429))}

    def __init__(self, hub: object, long_polls: LongPollGate) -> None:
        self.hub = hub
        self.long_polls = long_polls

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        q = parse_query(req, WaitQuery)
        ctx = self.ctx(req)
        park = parked(req.env)
        if park is not None and q.timeout > 0:
            cursor = self.hub.latest_id()  # type: ignore[attr-defined]
            task = event_svc.wait_for_task(ctx, self.hub, id, 0)
            if not RunStatus(task.status).is_terminal:
                park_until(park, self.long_polls, ctx, resp, [task_key(id)], cursor=cursor,
                           timeout=q.timeout)
        else:
            with held_while_waiting(self.long_polls, ctx, resp, q.timeout) as timeout:
                task = event_svc.wait_for_task(ctx, self.hub, id, timeout)
        reply(resp, TaskOut.model_validate(task))
