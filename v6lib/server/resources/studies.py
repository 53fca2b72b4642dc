"""``/study`` resources."""

from __future__ import annotations

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.study import StudyIn, StudyOut, StudyPatch
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
from v6lib.server.services import studies as svc

__all__ = ["StudyCollection", "StudyItem"]


class StudyQuery(ListQuery):
    collaboration_id: DbId | None = None
    name: str | None = None


class StudyCollection(Resource):
    api = {
        "get": Op("List studies", StudyOut, query=StudyQuery, paged=True),
        "post": Op("Create a study", StudyOut, body=StudyIn, status=201,
                   errors=(400, 403, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, StudyQuery)
        rows, total = svc.list_studies(self.ctx(req), **q.model_dump())
        page_reply(req, resp, rows, total, q, StudyOut.model_validate)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, StudyOut.model_validate(
            svc.create_study(self.ctx(req), parse_body(req, StudyIn))), 201)


class StudyItem(Resource):
    api = {
        "get": Op("One study", StudyOut, errors=(404,)),
        "patch": Op("Edit a study", StudyOut, body=StudyPatch, errors=(400, 403, 404, 409)),
        "delete": Op("Delete a study", Message, errors=(403, 404)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, StudyOut.model_validate(svc.get_study(self.ctx(req), id)))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, StudyOut.model_validate(
            svc.update_study(self.ctx(req), id, parse_body(req, StudyPatch))))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        svc.delete_study(self.ctx(req), id)
        reply(resp, Message(msg=f"study {id} deleted"))
