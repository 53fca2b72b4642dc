"""``/run`` and ``/result`` resources; only a run's node may PATCH it."""

from __future__ import annotations

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.run import ResultOut, RunOut, RunPatch
from v6lib.schemas.run_status import RunStatus
from v6lib.server.db.models import Run
from v6lib.server.resources._base import (
    ListQuery,
    Op,
    Resource,
    page_reply,
    parse_body,
    parse_query,
    reply,
)
from v6lib.server.services import runs as svc

__all__ = ["ResultCollection", "ResultItem", "RunCollection", "RunItem", "result_out"]


def result_out(run: Run) -> ResultOut:
    return ResultOut(id=run.id, run_id=run.id, task_id=run.task_id,
                     organization_id=run.organization_id,
                     status=RunStatus(run.status), result=run.result, log=run.log)


class RunQuery(ListQuery):
    task_id: DbId | None = None
    organization_id: DbId | None = None
    node_id: DbId | None = None
    status: RunStatus | None = None
    job_id: DbId | None = None


class RunCollection(Resource):
    api = {"get": Op("List runs", RunOut, query=RunQuery, paged=True)}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, RunQuery)
        rows, total = svc.list_runs(self.ctx(req), **q.model_dump())
        page_reply(req, resp, rows, total, q, RunOut.model_validate)


class RunItem(Resource):
    api = {
        "get": Op("One run", RunOut, errors=(404,)),
        "patch": Op("Report a run's progress or result (its node only); repeating the "
                    "final status is a no-op", RunOut, body=RunPatch,
                    errors=(400, 403, 404, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, RunOut.model_validate(svc.get_run(self.ctx(req), id)))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, RunOut.model_validate(
            svc.update_run(self.ctx(req), id, parse_body(req, RunPatch))))


class ResultQuery(ListQuery):
    task_id: DbId | None = None
    organization_id: DbId | None = None
    job_id: DbId | None = None


class ResultCollection(Resource):
    api = {"get": Op("List results (a run seen as a result)", ResultOut, query=ResultQuery,
                     paged=True)}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, ResultQuery)
        rows, total = svc.list_runs(self.ctx(req), page=q.page, per_page=q.per_page,
                                    task_id=q.task_id, organization_id=q.organization_id,
                                    job_id=q.job_id)
        page_reply(req, resp, rows, total, q, result_out)


class ResultItem(Resource):
    api = {"get": Op("One result", ResultOut, errors=(404,))}

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, result_out(svc.get_run(self.ctx(req), id)))
