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
from v6lib.server.resources._base import ListQuery, Op, Resource, parse_body, reply
from v6lib.server.resources._crud import Creating, Deleting, Editing, Listing, Reading
from v6lib.server.services import collaborations as svc

__all__ = ["CollaborationCollection", "CollaborationItem", "CollaborationOrganizations"]


class CollaborationQuery(ListQuery):
    name: str | None = None
    organization_id: DbId | None = None


class CollaborationCollection(Listing, Creating):
    api = {
        "get": Op("List collaborations", CollaborationOut, query=CollaborationQuery,
                  paged=True),
        "post": Op("Create a collaboration", CollaborationOut, body=CollaborationIn,
                   status=201, errors=(400, 403, 409)),
    }
    list_rows = staticmethod(svc.list_collaborations)
    create_row = staticmethod(svc.create_collaboration)


class CollaborationItem(Reading, Editing, Deleting):
    api = {
        "get": Op("One collaboration", CollaborationOut, errors=(404,)),
        "patch": Op("Edit a collaboration", CollaborationOut, body=CollaborationPatch,
                    errors=(400, 403, 404, 409)),
        "delete": Op("Delete a collaboration with its nodes, studies and tasks", Message,
                     errors=(403, 404)),
    }
    noun = "collaboration"
    get_row = staticmethod(svc.get_collaboration)
    update_row = staticmethod(svc.update_collaboration)
    delete_row = staticmethod(svc.delete_collaboration)


class CollaborationOrganizations(Resource):
    api = {
        "post": Op("Invite an organization (a member's administrator) or accept an "
                   "invitation (the organization's administrator); it joins when both "
                   "agreed (200), until then 202; Root adds at once", CollaborationOut,
                   body=IdRef, errors=(400, 403, 404)),
        "delete": Op("Remove an organization (and its node) from the collaboration",
                     CollaborationOut, body=IdRef, errors=(400, 403, 404)),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        ref = parse_body(req, IdRef)
        answer = svc.add_organization(self.ctx(req), id, ref.id)
        if answer.collaboration is None:
            reply(resp, Message(msg=str(answer.pending)), status=202)
            return
        reply(resp, CollaborationOut.model_validate(answer.collaboration))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        ref = parse_body(req, IdRef)
        reply(resp, CollaborationOut.model_validate(
            svc.remove_organization(self.ctx(req), id, ref.id)))
