"""``/run`` and ``/result`` resources; only a run's node may PATCH or claim it."""

from __future__ import annotations

from typing import Any, Literal

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.run import ResultOut, RunClaimOut, RunOut, RunPatch, RunProgressIn
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task import TaskOut
from v6lib.server.db.models import Run
from v6lib.server.resources._base import ListQuery, Op, Resource, parse_body, reply
from v6lib.server.resources._crud import Editing, Listing, Reading
from v6lib.server.services import runs as svc
from v6lib.server.services.context import ServiceContext

__all__ = ["ResultCollection", "ResultItem", "RunClaimResource", "RunCollection",
           "RunItem", "RunProgressResource", "result_out"]


def result_out(run: Run) -> ResultOut:
    return ResultOut(id=run.id, run_id=run.id, task_id=run.task_id,
                     organization_id=run.organization_id,
                     status=RunStatus(run.status), result=run.result,
                     result_size=run.result_size, log=run.log)


class RunQuery(ListQuery):
    task_id: DbId | None = None
    organization_id: DbId | None = None
    node_id: DbId | None = None
    status: RunStatus | None = None
    job_id: DbId | None = None
    #: vantage6's filter for runs that have not finished yet
    state: Literal["open"] | None = None


class RunCollection(Listing):
    api = {"get": Op("List runs", RunOut, query=RunQuery, paged=True)}
    list_rows = staticmethod(svc.list_runs)


class RunItem(Reading, Editing):
    api = {
        "get": Op("One run", RunOut, errors=(404,)),
        "patch": Op("Report a run's progress or result (its node only); repeating the "
                    "final status is a no-op", RunOut, body=RunPatch,
                    errors=(400, 403, 404, 409)),
    }
    get_row = staticmethod(svc.get_run)
    update_row = staticmethod(svc.update_run)


class RunClaimResource(Resource):
    api = {"post": Op("Claim a pending run for its node (pending -> initializing) and get "
                      "its task and container token in one call; the node re-claiming a "
                      "run it already initializes gets them again", RunClaimOut,
                      errors=(401, 403, 404, 409))}

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        claim = svc.claim_run(self.ctx(req), id)
        reply(resp, RunClaimOut(run=RunOut.model_validate(claim.run),
                                task=TaskOut.model_validate(claim.task),
                                container_token=claim.container_token))


class RunProgressResource(Resource):
    api = {"post": Op("Report a running run's progress (its node only): a fraction from 0 "
                      "to 1 kept in whole percent that never goes down, and a short "
                      "message", RunOut, body=RunProgressIn, errors=(400, 403, 404, 409))}

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        payload = parse_body(req, RunProgressIn)
        reply(resp, RunOut.model_validate(svc.record_progress(self.ctx(req), id, payload)))


class ResultQuery(ListQuery):
    task_id: DbId | None = None
    organization_id: DbId | None = None
    job_id: DbId | None = None


class _AsResult:
    """A run seen as a result: the reply is built by ``result_out``."""

    def out(self, ctx: ServiceContext, row: Any, method: str) -> ResultOut:
        return result_out(row)


class ResultCollection(_AsResult, Listing):
    api = {"get": Op("List results (a run seen as a result)", ResultOut, query=ResultQuery,
                     paged=True)}
    list_rows = staticmethod(svc.list_runs)


class ResultItem(_AsResult, Reading):
    api = {"get": Op("One result", ResultOut, errors=(404,))}
    get_row = staticmethod(svc.get_run)
