"""vantage6's endpoints that v6lib names differently, answered by v6lib's own services.

Each one calls the same service functions (and so the same permission checks) as the
v6lib endpoint it mirrors; none of them adds a capability v6lib does not have.
"""

from __future__ import annotations

import falcon

from v6lib.schemas._base import DbId, InModel, OutModel
from v6lib.schemas.node import NodeOut
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.study import StudyOut, StudyPatch
from v6lib.schemas.token import Message
from v6lib.server.resources._base import (
    ListQuery,
    Op,
    Resource,
    page_reply,
    parse_body,
    parse_query,
    reply,
)
from v6lib.server.resources.nodes import node_out
from v6lib.server.services import collaborations as collaboration_svc
from v6lib.server.services import nodes as node_svc
from v6lib.server.services import studies as study_svc
from v6lib.server.services import tasks as task_svc

__all__ = ["compat_routes", "item_methods"]


class TaskStatusOut(OutModel):
    id: int
    status: RunStatus


class IdBody(InModel):
    """vantage6 names the object of ``/kill/...`` in the body: ``{"id": n}``."""

    id: DbId


class TaskStatus(Resource):
    """``GET /task/{id}/status``: vantage6's client polls it while it waits for a task."""

    api = {"get": Op("The status of a task (as vantage6's client polls it)", TaskStatusOut,
                     errors=(404,))}

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        task = task_svc.get_task(self.ctx(req), id)
        reply(resp, TaskStatusOut(id=task.id, status=RunStatus(task.status)))


class KillTask(Resource):
    """``POST /kill/task {id}``: vantage6's name for ``POST /task/{id}/kill``."""

    api = {"post": Op("Kill a task and all its descendants (vantage6's endpoint)", Message,
                      body=IdBody, errors=(400, 403, 404))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        ctx = self.ctx(req)
        task = task_svc.kill_task(ctx, parse_body(req, IdBody).id)
        reply(resp, Message(msg=f"task {task.id} and its subtasks are killed"))


class KillNodeTasks(Resource):
    """``POST /kill/node/tasks {id}``: stop everything one node is running."""

    api = {"post": Op("Kill every unfinished run of a node (vantage6's endpoint)", Message,
                      body=IdBody, errors=(400, 403, 404))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        ctx = self.ctx(req)
        node_id = parse_body(req, IdBody).id
        task_ids = task_svc.kill_node_runs(ctx, node_id)
        reply(resp, Message(msg=f"killed the unfinished runs of node {node_id} "
                                f"(tasks {task_ids})"))


class StudyOrganizations(Resource):
    """``POST``/``DELETE /study/{id}/organization {id}``: vantage6's way to add or remove
    one organization; v6lib edits the study's ``organization_ids`` (same checks)."""

    api = {"post": Op("Add an organization to a study (vantage6's endpoint)", StudyOut,
                      body=IdBody, errors=(400, 403, 404)),
           "delete": Op("Remove an organization from a study (vantage6's endpoint)", StudyOut,
                        body=IdBody, errors=(400, 403, 404))}

    @staticmethod
    def _change(req: falcon.Request, resp: falcon.Response, study_id: int, *,
                add: bool) -> None:
        ctx = Resource.ctx(req)
        organization_id = parse_body(req, IdBody).id
        members = [o.id for o in study_svc.get_study(ctx, study_id).organizations]
        wanted = [*members, organization_id] if add else \
            [m for m in members if m != organization_id]
        study = study_svc.update_study(ctx, study_id, StudyPatch(
            organization_ids=list(dict.fromkeys(wanted))))
        reply(resp, StudyOut.model_validate(study))

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        self._change(req, resp, id, add=True)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        self._change(req, resp, id, add=False)


class CollaborationNodeQuery(ListQuery):
    """Pagination only: the collaboration is in the path."""


class CollaborationNodes(Resource):
    """``GET /collaboration/{id}/node``: the collaboration's nodes the caller may see."""

    api = {"get": Op("The nodes of a collaboration", NodeOut, query=CollaborationNodeQuery,
                     paged=True, errors=(404,))}

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        ctx = self.ctx(req)
        q = parse_query(req, CollaborationNodeQuery)
        collaboration_svc.get_collaboration(ctx, id)  # 404 unless the caller may see it
        rows, total = node_svc.list_nodes(ctx, page=q.page, per_page=q.per_page,
                                          collaboration_id=id)
        page_reply(req, resp, rows, total, q, lambda row: node_out(ctx, row))


class BlobStoreStatusOut(OutModel):
    blob_store_enabled: bool


class BlobStoreStatus(Resource):
    """``GET /blobstream/status``: vantage6's client asks before each task whether to
    upload inputs separately; v6lib carries them in the task, so the answer is no."""

    api = {"get": Op("Whether inputs go to a separate blob store (never, in v6lib)",
                     BlobStoreStatusOut)}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, BlobStoreStatusOut(blob_store_enabled=False))


def compat_routes(id_pattern: str) -> list[tuple[str, Resource]]:
    """vantage6's extra paths (relative to ``api_path``); ``id_pattern`` is the route
    table's path id, so ids out of range answer 404 here as everywhere."""
    return [
        (f"/task/{id_pattern}/status", TaskStatus()),
        ("/kill/task", KillTask()),
        ("/kill/node/tasks", KillNodeTasks()),
        (f"/collaboration/{id_pattern}/node", CollaborationNodes()),
        (f"/study/{id_pattern}/organization", StudyOrganizations()),
        ("/blobstream/status", BlobStoreStatus()),
    ]


def item_methods(routes: list[tuple[str, Resource]], id_pattern: str) -> dict[str, list[str]]:
    """Resource name -> HTTP methods of its item path (``/<name>/{id}``), for references."""
    methods: dict[str, list[str]] = {}
    for path, resource in routes:
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[1] == id_pattern:
            methods[parts[0]] = sorted(m.upper() for m in resource.api)
    return methods


