"""``/organization`` resources."""

from __future__ import annotations

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.organization import OrganizationIn, OrganizationOut, OrganizationPatch
from v6lib.server.resources._base import (
    ListQuery,
    Op,
    Resource,
    page_reply,
    parse_body,
    parse_query,
    reply,
)
from v6lib.server.services import organizations as svc

__all__ = ["OrganizationCollection", "OrganizationItem"]


class OrganizationQuery(ListQuery):
    name: str | None = None
    collaboration_id: DbId | None = None


class OrganizationCollection(Resource):
    api = {
        "get": Op("List organizations", OrganizationOut, query=OrganizationQuery, paged=True),
        "post": Op("Create an organization", OrganizationOut, body=OrganizationIn, status=201,
                   errors=(400, 403, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, OrganizationQuery)
        rows, total = svc.list_organizations(self.ctx(req), **q.model_dump())
        page_reply(req, resp, rows, total, q, OrganizationOut.model_validate)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        org = svc.create_organization(self.ctx(req), parse_body(req, OrganizationIn))
        reply(resp, OrganizationOut.model_validate(org), 201)


class OrganizationItem(Resource):
    api = {
        "get": Op("One organization", OrganizationOut, errors=(404,)),
        "patch": Op("Edit an organization", OrganizationOut, body=OrganizationPatch,
                    errors=(400, 403, 404, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, OrganizationOut.model_validate(svc.get_organization(self.ctx(req), id)))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        org = svc.update_organization(self.ctx(req), id, parse_body(req, OrganizationPatch))
        reply(resp, OrganizationOut.model_validate(org))
