"""``/token/*``, ``/password/change`` and ``/recover/*``: logging in and passwords."""

from __future__ import annotations

import falcon

from v6lib.schemas.token import (
    ContainerTokenIn,
    ContainerTokenOut,
    Message,
    NodeLogin,
    NodeTokenOut,
    PasswordChange,
    RecoverLost,
    RecoverMfaReset,
    RecoverReset,
    RefreshOut,
    UserLogin,
    UserLoginOut,
)
from v6lib.server.middleware import bearer_token
from v6lib.server.resources._base import Op, Resource, parse_body, reply
from v6lib.server.services import accounts, logins, recovery

__all__ = ["ContainerToken", "NodeToken", "PasswordChangeResource", "RecoverLostResource",
           "RecoverMfaLostResource", "RecoverMfaResetResource", "RecoverResetResource",
           "RefreshToken", "UserToken"]


class UserToken(Resource):
    auth = False
    api = {"post": Op("Log in as a user (password, TOTP code when the account has one); "
                      "an account that must set up two-factor authentication gets the "
                      "TOTP secret instead of tokens; attempts are throttled per username "
                      "and client address",
                      UserLoginOut, body=UserLogin, auth=False, errors=(400, 401, 429))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, logins.login_user(self.ctx(req), parse_body(req, UserLogin),
                                      client=req.context.client_address))


class NodeToken(Resource):
    auth = False
    api = {"post": Op("Log in as a node with its API key; attempts are throttled per key "
                      "selector and client address", NodeTokenOut, body=NodeLogin,
                      auth=False, errors=(400, 401, 429))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, logins.login_node(self.ctx(req), parse_body(req, NodeLogin).api_key,
                                      client=req.context.client_address))


class ContainerToken(Resource):
    api = {"post": Op("Mint a token for the algorithm container of one of the node's runs",
                      ContainerTokenOut, body=ContainerTokenIn, errors=(400, 401, 403, 409))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, logins.container_token(self.ctx(req), parse_body(req, ContainerTokenIn)))


class RefreshToken(Resource):
    auth = False
    api = {"post": Op("New access and refresh tokens for a refresh token (Bearer header)",
                      RefreshOut, auth=False, errors=(401,))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, logins.refresh_tokens(self.ctx(req), bearer_token(req)))


class PasswordChangeResource(Resource):
    """POST is v6lib's method; PATCH, the same change, is the one vantage6's client uses."""

    api = {"post": Op("Change the caller's password", Message, body=PasswordChange,
                      errors=(400, 401)),
           "patch": Op("Change the caller's password (vantage6's method)", Message,
                       body=PasswordChange, errors=(400, 401))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, accounts.change_password(self.ctx(req), parse_body(req, PasswordChange),
                                             client=req.context.client_address))

    on_patch = on_post


class RecoverLostResource(Resource):
    auth = False
    api = {"post": Op("Request a password reset token by mail (the same answer whether or "
                      "not the account exists; rate limited per account and address)",
                      Message, body=RecoverLost, auth=False, errors=(400, 429))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, recovery.request_recovery(self.ctx(req), parse_body(req, RecoverLost),
                                              "password", client=req.context.client_address))


class RecoverResetResource(Resource):
    auth = False
    api = {"post": Op("Set a new password with a reset token", Message, body=RecoverReset,
                      auth=False, errors=(400, 401))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, recovery.reset_password(self.ctx(req), parse_body(req, RecoverReset)))


class RecoverMfaLostResource(Resource):
    auth = False
    api = {"post": Op("Request a two-factor reset token by mail (the same answer whether or "
                      "not the account exists; rate limited per account and address)",
                      Message, body=RecoverLost, auth=False, errors=(400, 429))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, recovery.request_recovery(self.ctx(req), parse_body(req, RecoverLost),
                                              "mfa", client=req.context.client_address))


class RecoverMfaResetResource(Resource):
    auth = False
    api = {"post": Op("Remove the second factor with a two-factor reset token and the "
                      "password; it is set up again at the next login", Message,
                      body=RecoverMfaReset, auth=False, errors=(400, 401, 429))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, recovery.reset_mfa(self.ctx(req), parse_body(req, RecoverMfaReset),
                                       client=req.context.client_address))
