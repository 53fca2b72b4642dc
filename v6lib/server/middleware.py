"""Per-request plumbing: request id, body-size limit, DB session with commit/rollback, caller.

Resources set ``auth = False`` to be reachable without a token; every other resource
gets ``req.context.ctx``, a ``ServiceContext`` holding the authenticated principal.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import falcon
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from v6lib.errors import AuthenticationError, PayloadTooLargeError
from v6lib.schemas.run_status import RunStatus
from v6lib.server.db.engine import is_sqlite, write_options
from v6lib.server.db.models import Node, Run, User
from v6lib.server.permissions.principal import (
    Principal,
    container_principal,
    load_user_principal,
    node_principal,
)
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.logins import check_token_generation
from v6lib.server.state import ServerState

__all__ = ["RequestMiddleware", "authenticate", "bearer_token"]

log = logging.getLogger("v6lib.server")

def bearer_token(req: falcon.Request) -> str:
    header = req.get_header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("this needs an access token (Authorization: Bearer ...)")
    return token.strip()


def authenticate(state: ServerState, session: Session, token: str, *,
                 writer: bool = True) -> Principal:
    """The principal a valid access token stands for, or ``AuthenticationError``.

    ``writer`` says whether the request's own transaction may write; if not, a node's
    "last seen" time is recorded in a separate short transaction.
    """
    claims = state.tokens.verify(token, {"user", "node", "container"})
    kind, subject = claims["kind"], claims["subject_id"]
    if kind == "user":
        user = session.get(User, subject)
        if user is None:
            raise AuthenticationError("the user of this token no longer exists")
        check_token_generation(user, claims)
        return load_user_principal(session, user)
    if kind == "node":
        node = session.get(Node, subject)
        if node is None:
            raise AuthenticationError("the node of this token no longer exists")
        now = state.clock()
        if node.last_seen_at is None or \
                now - node.last_seen_at >= state.settings.node_seen_every:
            if writer:
                node.status = "online"
                node.last_seen_at = now
            else:
                _touch_node(state, node.id, now)
        return node_principal(session, node)
    run = session.get(Run, claims.get("run_id"))
    if run is None or RunStatus(run.status).is_terminal:
        raise AuthenticationError("container token expired: its run has finished")
    return container_principal(session, claims)


def _touch_node(state: ServerState, node_id: int, now: datetime) -> None:
    """Record that a node is alive, in its own short write transaction.

    NOTE: kept out of the request's transaction so that read-only requests (event
    polls) stay read-only, which SQLite needs to run them concurrently.
    """
    try:
        with state.engine.connect().execution_options(**write_options()) as conn:
            conn.execute(update(Node).where(Node.id == node_id)
                         .values(last_seen_at=now, status="online"))
            conn.commit()
    except OperationalError:  # a busy database must not fail the node's request
        log.warning("could not record that node %s was seen", node_id, exc_info=True)


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _is_raw(req: falcon.Request) -> bool:
    media = (req.content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/octet-stream"


class RequestMiddleware:
    """Opens one session per request and commits it only when the request succeeded."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        incoming = req.get_header("X-Request-ID") or ""
        req.context.request_id = incoming[:64] if incoming.isprintable() and incoming \
            else uuid.uuid4().hex
        req.context.max_bytes = self.state.max_request_bytes
        length = req.content_length
        limit = self.state.max_request_bytes
        if req.method == "PUT" and _is_raw(req):
            # NOTE: raw bodies (PUT /run/{id}/result) are streamed in chunks and checked
            # against their own, larger limit by their resource.
            limit = max(limit, self.state.settings.max_result_bytes)
        if length is not None and length > limit:
            raise PayloadTooLargeError(
                f"request body of {length} bytes is above the limit of {limit} bytes")

    def process_resource(self, req: falcon.Request, resp: falcon.Response,
                         resource: Any, params: dict[str, Any]) -> None:
        if resource is None or req.method == "OPTIONS":
            return  # CORS preflights carry no token and touch no data
        session = self.state.session_factory()
        req.context.session = session
        writer = req.method not in _READ_METHODS
        if writer and is_sqlite(self.state.engine):
            session.connection(execution_options=write_options())
        principal = None
        if getattr(resource, "auth", True):
            principal = authenticate(self.state, session, bearer_token(req), writer=writer)
        req.context.ctx = ServiceContext(
            session=session, tokens=self.state.tokens, events=self.state.hub,
            settings=self.state.settings, principal=principal, clock=self.state.clock,
            mailer=self.state.mailer)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        resp.set_header("X-Request-ID", getattr(req.context, "request_id", ""))
        session: Session | None = getattr(req.context, "session", None)
        if session is None:
            return
        try:
            if req_succeeded and resp.status_code < 400:
                session.commit()
            else:
                session.rollback()
        except IntegrityError:
            session.rollback()
            log.warning("request %s: commit refused by a database constraint",
                        req.context.request_id, exc_info=True)
            resp.status = 409
            resp.media = {"code": "conflict",
                          "message": "the change conflicts with existing data"}
        except Exception:
            session.rollback()
            log.exception("request %s: commit failed", req.context.request_id)
            resp.status = 500
            resp.media = {"code": "internal_error", "message": "internal server error",
                          "request_id": req.context.request_id}
        finally:
            session.close()
