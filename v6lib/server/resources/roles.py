"""``/role`` and ``/rule`` resources."""

from __future__ import annotations

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.role import RoleIn, RoleOut, RolePatch
from v6lib.schemas.rule import Operation, RuleOut, Scope
from v6lib.schemas.rule import Resource as ResourceName
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
from v6lib.server.services import roles as svc
from v6lib.server.services import rules as rule_svc

__all__ = ["RoleCollection", "RoleItem", "RuleCollection", "RuleItem"]


class RoleQuery(ListQuery):
    organization_id: DbId | None = None
    user_id: DbId | None = None
    name: str | None = None
    include_default: bool = True


class RoleCollection(Resource):
    api = {
        "get": Op("List roles (default roles included unless include_default=false)",
                  RoleOut, query=RoleQuery, paged=True),
        "post": Op("Create a role", RoleOut, body=RoleIn, status=201,
                   errors=(400, 403, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, RoleQuery)
        rows, total = svc.list_roles(self.ctx(req), **q.model_dump())
        page_reply(req, resp, rows, total, q, RoleOut.model_validate)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, RoleOut.model_validate(
            svc.create_role(self.ctx(req), parse_body(req, RoleIn))), 201)


class RoleItem(Resource):
    api = {
        "get": Op("One role", RoleOut, errors=(404,)),
        "patch": Op("Edit a role", RoleOut, body=RolePatch, errors=(400, 403, 404, 409)),
        "delete": Op("Delete a role (default roles cannot be deleted: 409)", Message,
                     errors=(403, 404, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, RoleOut.model_validate(svc.get_role(self.ctx(req), id)))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, RoleOut.model_validate(
            svc.update_role(self.ctx(req), id, parse_body(req, RolePatch))))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        svc.delete_role(self.ctx(req), id)
        reply(resp, Message(msg=f"role {id} deleted"))


class RuleQuery(ListQuery):
    name: ResourceName | None = None
    scope: Scope | None = None
    operation: Operation | None = None
    role_id: DbId | None = None
    user_id: DbId | None = None


class RuleCollection(Resource):
    api = {"get": Op("List rules", RuleOut, query=RuleQuery, paged=True)}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, RuleQuery)
        rows, total = rule_svc.list_rules(self.ctx(req), **q.model_dump())
        page_reply(req, resp, rows, total, q, RuleOut.model_validate)


class RuleItem(Resource):
    api = {"get": Op("One rule", RuleOut, errors=(404,))}

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, RuleOut.model_validate(rule_svc.get_rule(self.ctx(req), id)))
