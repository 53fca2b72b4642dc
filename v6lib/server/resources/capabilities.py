"""``/permissions``: what the caller may do, so an interface can hide the rest."""

from __future__ import annotations

import falcon

from v6lib.schemas.permission import PermissionsOut
from v6lib.server.resources._base import Op, Resource, reply
from v6lib.server.services.capabilities import caller_permissions

__all__ = ["Permissions"]


class Permissions(Resource):
    api = {"get": Op("The caller's rules, organization and collaborations (the inputs of "
                     "the permission engine); every request is still checked",
                     PermissionsOut, errors=(401,))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, caller_permissions(self.ctx(req)))
