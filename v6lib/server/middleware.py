"""Per-request plumbing: request id, client address, body-size limit, DB session with
commit/rollback, caller.

Resources set ``auth = False`` to be reachable without a token; every other resource
gets ``req.context.ctx``, a ``ServiceContext`` holding the authenticated principal.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import falcon
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from v6lib.errors import AuthenticationError, PayloadTooLargeError
from v6lib.server.auth.principals import authenticate
from v6lib.server.client_address import client_address
from v6lib.server.db.engine import is_sqlite, write_options
from v6lib.server.errors import DATABASE_RETRY_AFTER, database_unavailable
from v6lib.server.services.context import ServiceContext
from v6lib.server.state import ServerState

__all__ = ["RequestMiddleware", "bearer_token"]

log = logging.getLogger("v6lib.server")


def bearer_token(req: falcon.Request) -> str:
    header = req.get_header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("this needs an access token (Authorization: Bearer ...)")
    return token.strip()


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
        req.context.client_address = client_address(
            req.remote_addr, req.get_header("X-Forwarded-For"), self.state.trusted_proxies)
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
        except (OperationalError, InterfaceError) as exc:
            _rollback_quietly(session)
            error = database_unavailable(exc)
            resp.status = error.http_status
            resp.media = error.to_dict()
            resp.set_header("Retry-After", str(int(DATABASE_RETRY_AFTER)))
        except Exception:
            _rollback_quietly(session)
            log.exception("request %s: commit failed", req.context.request_id)
            resp.status = 500
            resp.media = {"code": "internal_error", "message": "internal server error",
                          "request_id": req.context.request_id}
        finally:
            session.close()


def _rollback_quietly(session: Session) -> None:
    """Roll back; a connection that is already gone cannot, and need not."""
    try:
        session.rollback()
    except (OperationalError, InterfaceError):
        log.debug("rollback after a lost connection failed", exc_info=True)
