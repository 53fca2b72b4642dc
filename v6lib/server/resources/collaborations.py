"""``/collaboration`` resources, including membership changes."""

from __future__ import annotations

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.collaboration import (
    CollaborationIn,
    CollaborationOut,
    CollaborationPatch,
    IdRef,
)
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
from v6lib.server.services import collaborations as svc

__all__ = ["CollaborationCollection", "CollaborationItem", "CollaborationOrganizations"]


class CollaborationQuery(ListQuery):
    name: str | None = None
    organization_id: DbId | None = None


class CollaborationCollection(Resource):
    api = {
        "get": Op("List collaborations", CollaborationOut, query=CollaborationQuery,
                  paged=True),
        "post": Op("Create a collaboration", CollaborationOut, body=CollaborationIn,
                   status=201, errors=(400, 403, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, CollaborationQuery)
        rows, total = svc.list_collaborations(self.ctx(req), **q.model_dump())
        page_reply(req, resp, rows, total, q, CollaborationOut.model_validate)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        collab = svc.create_collaboration(self.ctx(req), parse_body(req, CollaborationIn))
        reply(resp, CollaborationOut.model_validate(collab), 201)


class CollaborationItem(Resource):
    api = {
        "get": Op("One collaboration", CollaborationOut, errors=(404,)),
        "patch": Op("Edit a collaboration", CollaborationOut, body=CollaborationPatch,
                    errors=(400, 403, 404, 409)),
        "delete": Op("Delete a collaboration with its nodes, studies and tasks", Message,
                     errors=(403, 404)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, CollaborationOut.model_validate(svc.get_collaboration(self.ctx(req), id)))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        collab = svc.update_collaboration(self.ctx(req), id, parse_body(req, CollaborationPatch))
        reply(resp, CollaborationOut.model_validate(collab))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        svc.delete_collaboration(self.ctx(req), id)
        reply(resp, Message(msg=f"collaboration {id} deleted"))


class CollaborationOrganizations(Resource):
    api = {
        "post": Op("Add an organization to the collaboration", CollaborationOut, body=IdRef,
                   errors=(400, 403, 404)),
        "delete": Op("Remove an organization (and its node) from the collaboration",
                     CollaborationOut, body=IdRef, errors=(400, 403, 404)),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        ref = parse_body(req, IdRef)
        reply(resp, CollaborationOut.model_validate(
            svc.add_organization(self.ctx(req), id, ref.id)))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        ref = parse_body(req, IdRef)
        reply(resp, CollaborationOut.model_validate(
            svc.remove_organization(self.ctx(req), id, ref.id)))
