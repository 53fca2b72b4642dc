"""``/user`` resources."""

from __future__ import annotations

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.token import Message
from v6lib.schemas.user import UserIn, UserOut, UserPatch
from v6lib.server.resources._base import (
    ListQuery,
    Op,
    Resource,
    page_reply,
    parse_body,
    parse_query,
    reply,
)
from v6lib.server.services import users as svc

__all__ = ["UserCollection", "UserItem"]


class UserQuery(ListQuery):
    organization_id: DbId | None = None
    username: str | None = None
    role_id: DbId | None = None


class UserCollection(Resource):
    api = {
        "get": Op("List users", UserOut, query=UserQuery, paged=True),
        "post": Op("Create a user", UserOut, body=UserIn, status=201,
                   errors=(400, 403, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, UserQuery)
        rows, total = svc.list_users(self.ctx(req), **q.model_dump())
        page_reply(req, resp, rows, total, q, UserOut.model_validate)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, UserOut.model_validate(
            svc.create_user(self.ctx(req), parse_body(req, UserIn))), 201)


class UserItem(Resource):
    api = {
        "get": Op("One user", UserOut, errors=(404,)),
        "patch": Op("Edit a user, its roles and rules", UserOut, body=UserPatch,
                    errors=(400, 403, 404, 409)),
        "delete": Op("Delete a user", Message, errors=(403, 404, 409)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, UserOut.model_validate(svc.get_user(self.ctx(req), id)))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, UserOut.model_validate(
            svc.update_user(self.ctx(req), id, parse_body(req, UserPatch))))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        svc.delete_user(self.ctx(req), id)
        reply(resp, Message(msg=f"user {id} deleted"))
