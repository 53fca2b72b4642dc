"""Every error leaves the server as ``{"code", "message", "details"?}`` JSON.

``V6Error`` subclasses carry their own status (``http_status``); falcon's own errors
(unknown route, wrong method) get the same shape; anything unexpected is logged with
its request id and answered with a generic 500 that reveals nothing of the cause.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import falcon
import sqlalchemy.exc

from v6lib.errors import DatabaseUnavailableError, ServerBusyError, V6Error

__all__ = ["DATABASE_RETRY_AFTER", "database_unavailable", "install_error_handlers"]

log = logging.getLogger("v6lib.server")

# falcon status -> our stable code, for errors falcon raises itself
_FALCON_CODES = {
    400: "validation_error",
    401: "authentication_error",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _request_id(req: falcon.Request) -> str | None:
    return getattr(req.context, "request_id", None)


def _send(resp: falcon.Response, status: int, body: dict[str, Any]) -> None:
    resp.status = status
    resp.media = body
    resp.content_type = falcon.MEDIA_JSON


def _handle_v6(req: falcon.Request, resp: falcon.Response, ex: V6Error,
               params: dict[str, Any]) -> None:
    body = ex.to_dict()
    if isinstance(ex, ServerBusyError | DatabaseUnavailableError):
        pass  # a temporary condition, logged where it is noticed, not per request
    elif ex.http_status >= 500:
        log.error("request %s failed: %s", _request_id(req), ex.message)
        body["request_id"] = _request_id(req)
    if ex.retry_after is not None:
        resp.set_header("Retry-After", str(math.ceil(ex.retry_after)))
    _send(resp, ex.http_status, body)


def _handle_http(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError,
                 params: dict[str, Any]) -> None:
    status = ex.status_code
    message = ex.description or ex.title or "error"
    if status == 405:
        message = f"method {req.method} is not allowed on {req.path}"
    elif status == 404 and not ex.description:
        message = f"no such path: {req.path}"
    body: dict[str, Any] = {"code": _FALCON_CODES.get(status, "http_error"), "message": message}
    if status >= 500:
        body = {"code": "internal_error", "message": message, "request_id": _request_id(req)}
    for name, value in dict(ex.headers or {}).items():
        resp.set_header(name, value)
    _send(resp, status, body)


def _handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception,
                       params: dict[str, Any]) -> None:
    if isinstance(ex, falcon.HTTPError):  # pragma: no cover - resolved by MRO first
        _handle_http(req, resp, ex, params)
        return
    rid = _request_id(req)
    log.exception("unexpected error in request %s %s %s", rid, req.method, req.path)
    _send(resp, 500, {"code": "internal_error",
                      "message": "internal server error; quote the request id when reporting",
                      "request_id": rid})


#: Seconds a client is asked to wait before retrying while the database is away.
DATABASE_RETRY_AFTER = 5.0


def database_unavailable(ex: BaseException) -> DatabaseUnavailableError:
    """The answer to a lost database connection: 503, not a 500 with a request id."""
    log.warning("database unavailable: %s", str(ex).splitlines()[0][:300])
    return DatabaseUnavailableError(
        "the server cannot reach its database right now; try again shortly",
        details={"retry_after_seconds": DATABASE_RETRY_AFTER})


def _handle_database(req: falcon.Request, resp: falcon.Response, ex: Exception,
                     params: dict[str, Any]) -> None:
    if isinstance(ex, sqlalchemy.exc.DBAPIError) and not ex.connection_invalidated and \
            not isinstance(ex, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        _handle_unexpected(req, resp, ex, params)
        return
    _handle_v6(req, resp, database_unavailable(ex), params)


def install_error_handlers(app: falcon.App) -> None:
    """Register the handlers; falcon picks the most specific class by MRO."""
    app.add_error_handler(Exception, _handle_unexpected)
    app.add_error_handler(sqlalchemy.exc.OperationalError, _handle_database)
    app.add_error_handler(sqlalchemy.exc.InterfaceError, _handle_database)
    app.add_error_handler(sqlalchemy.exc.DisconnectionError, _handle_database)
    app.add_error_handler(falcon.HTTPError, _handle_http)
    app.add_error_handler(V6Error, _handle_v6)
