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

from v6lib.errors import ServerBusyError, V6Error

__all__ = ["install_error_handlers"]

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
    if isinstance(ex, ServerBusyError):
        pass  # an answer to load, not a failure: not logged per request
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
    for name, value in (ex.headers or {}).items():
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


def install_error_handlers(app: falcon.App) -> None:
    """Register the handlers; falcon picks the most specific class by MRO."""
    app.add_error_handler(Exception, _handle_unexpected)
    app.add_error_handler(falcon.HTTPError, _handle_http)
    app.add_error_handler(V6Error, _handle_v6)
