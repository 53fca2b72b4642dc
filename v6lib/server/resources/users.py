"""``/user`` resources."""

from __future__ import annotations

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.token import Message
from v6lib.schemas.user import UserIn, UserOut, UserPatch
from v6lib.server.resources._base import ListQuery, Op, Resource, reply
from v6lib.server.resources._crud import Creating, Deleting, Editing, Listing, Reading
from v6lib.server.services import users as svc

__all__ = ["UserCollection", "UserItem", "UserMfaReset"]


class UserQuery(ListQuery):
    organization_id: DbId | None = None
    username: str | None = None
    role_id: DbId | None = None


class UserCollection(Listing, Creating):
    api = {
        "get": Op("List users", UserOut, query=UserQuery, paged=True),
        "post": Op("Create a user", UserOut, body=UserIn, status=201,
                   errors=(400, 403, 409)),
    }
    list_rows = staticmethod(svc.list_users)
    create_row = staticmethod(svc.create_user)


class UserItem(Reading, Editing, Deleting):
    api = {
        "get": Op("One user", UserOut, errors=(404,)),
        "patch": Op("Edit a user, its roles and rules", UserOut, body=UserPatch,
                    errors=(400, 403, 404, 409)),
        "delete": Op("Delete a user", Message, errors=(403, 404, 409)),
    }
    noun = "user"
    get_row = staticmethod(svc.get_user)
    update_row = staticmethod(svc.update_user)
    delete_row = staticmethod(svc.delete_user)


class UserMfaReset(Resource):
    api = {"post": Op("Remove a user's second factor (a lost phone); they set it up again "
                      "at their next login where the server requires it", Message,
                      errors=(403, 404))}

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, svc.reset_user_mfa(self.ctx(req), id))
