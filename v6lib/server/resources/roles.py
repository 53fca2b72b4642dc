"""``/role`` and ``/rule`` resources."""

from __future__ import annotations

from v6lib.schemas._base import DbId
from v6lib.schemas.role import RoleIn, RoleOut, RolePatch
from v6lib.schemas.rule import Operation, RuleOut, Scope
from v6lib.schemas.rule import Resource as ResourceName
from v6lib.schemas.token import Message
from v6lib.server.resources._base import ListQuery, Op
from v6lib.server.resources._crud import Creating, Deleting, Editing, Listing, Reading
from v6lib.server.services import roles as svc
from v6lib.server.services import rules as rule_svc

__all__ = ["RoleCollection", "RoleItem", "RuleCollection", "RuleItem"]


class RoleQuery(ListQuery):
    organization_id: DbId | None = None
    user_id: DbId | None = None
    name: str | None = None
    include_default: bool = True


class RoleCollection(Listing, Creating):
    api = {
        "get": Op("List roles (default roles included unless include_default=false)",
                  RoleOut, query=RoleQuery, paged=True),
        "post": Op("Create a role", RoleOut, body=RoleIn, status=201,
                   errors=(400, 403, 409)),
    }
    list_rows = staticmethod(svc.list_roles)
    create_row = staticmethod(svc.create_role)


class RoleItem(Reading, Editing, Deleting):
    api = {
        "get": Op("One role", RoleOut, errors=(404,)),
        "patch": Op("Edit a role", RoleOut, body=RolePatch, errors=(400, 403, 404, 409)),
        "delete": Op("Delete a role (default roles cannot be deleted: 409)", Message,
                     errors=(403, 404, 409)),
    }
    noun = "role"
    get_row = staticmethod(svc.get_role)
    update_row = staticmethod(svc.update_role)
    delete_row = staticmethod(svc.delete_role)


class RuleQuery(ListQuery):
    name: ResourceName | None = None
    scope: Scope | None = None
    operation: Operation | None = None
    role_id: DbId | None = None
    user_id: DbId | None = None


class RuleCollection(Listing):
    api = {"get": Op("List rules", RuleOut, query=RuleQuery, paged=True)}
    list_rows = staticmethod(rule_svc.list_rules)


class RuleItem(Reading):
    api = {"get": Op("One rule", RuleOut, errors=(404,))}
    get_row = staticmethod(rule_svc.get_rule)
