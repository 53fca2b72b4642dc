"""One HTTP transport for everything that talks to a v6lib server or a node proxy.

Every request has a timeout, non-2xx answers become ``v6lib.errors`` exceptions carrying
the server's message, and a bearer token is refreshed on a 401 only. The user client,
the node and the algorithm client all sit on top of this class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from v6lib import errors

__all__ = ["Transport", "raise_for_error"]

DEFAULT_TIMEOUT = 30.0

# Called on a 401 to obtain a fresh access token; returns None when it cannot.
TokenRefresher = Callable[[], "str | None"]


def raise_for_error(response: requests.Response) -> None:
    """Raise the ``V6Error`` subclass that matches a non-2xx answer."""
    if response.ok:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or body.get("msg") or response.reason or "request failed")
    code = body.get("code")
    cls = errors.error_class_for_code(code)
    if cls is errors.V6Error:
        cls = _class_for_status(response.status_code)
    details = body.get("details") if isinstance(body.get("details"), dict) else None
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit() and "retry_after_seconds" not in (details or {}):
        details = {**(details or {}), "retry_after_seconds": int(retry_after)}
    raise cls(f"{message} ({response.request.method} {response.url} -> {response.status_code})"
              if cls is errors.V6Error else message, details=details)


def _class_for_status(status: int) -> type[errors.V6Error]:
    return {
        400: errors.ValidationError,
        401: errors.AuthenticationError,
        403: errors.PermissionDenied,
        404: errors.NotFoundError,
        409: errors.ConflictError,
        413: errors.PayloadTooLargeError,
        429: errors.RateLimitedError,
        502: errors.ServerUnavailableError,
        503: errors.ServerUnavailableError,
        504: errors.ServerUnavailableError,
    }.get(status, errors.V6Error)


class Transport:
    """JSON over HTTP against ``base_url`` (e.g. ``http://127.0.0.1:7601/api``).

    Args:
        base_url: server (or node proxy) URL including the API path.
        session: a ``requests.Session`` to reuse; one is created otherwise.
        timeout: seconds for connect and read of ordinary requests.
        refresh: called once on a 401 to obtain a new access token.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        refresh: TokenRefresher | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.token: str | None = None
        self.refresh = refresh

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        authenticated: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request and return the decoded JSON answer (None for an empty body).

        Raises:
            ServerUnavailableError: the server could not be reached or timed out.
            V6Error: the matching subclass for any non-2xx answer.
        """
        response = self._send(method, path, json, params, timeout, authenticated, headers)
        if response.status_code == 401 and authenticated and self.refresh is not None:
            new_token = self.refresh()
            if new_token:
                self.token = new_token
                response = self._send(method, path, json, params, timeout, authenticated, headers)
        raise_for_error(response)
        if not response.content:
            return None
        return response.json()

    def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
        timeout: float | None,
        authenticated: bool,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if authenticated and self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return self.session.request(
                method,
                self.url(path),
                json=json,
                params=clean_params,
                headers=all_headers,
                timeout=timeout if timeout is not None else self.timeout,
            )
        except requests.RequestException as exc:
            raise errors.ServerUnavailableError(
                f"cannot reach {self.base_url}: {exc.__class__.__name__}: {exc}"
            ) from exc

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def iter_pages(self, path: str, params: dict[str, Any] | None = None,
                   per_page: int = 100) -> Any:
        """Yield every item of a paginated list, page after page."""
        page = 1
        while True:
            body = self.get(path, params={**(params or {}), "page": page, "per_page": per_page})
            yield from body["data"]
            if not body.get("links", {}).get("next"):
                return
            page += 1
