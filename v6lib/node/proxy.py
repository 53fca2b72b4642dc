"""The node proxy: the only network path from an algorithm to the server.

Why it exists: algorithm containers have no network and must not see the server, the
node's credentials or private key. They call this proxy (over its Unix socket, mounted
into the container; process-runtime algorithms over ``127.0.0.1``) with their container
token; it forwards to the server and does the encryption on their behalf:

* ``POST /task`` (a subtask): each organization's base64 input is sealed with that
  organization's public key, bound to (task uid, organization, "input"); the proxy picks
  the task uid (uuid4) unless the algorithm sent one.
* ``GET /run``, ``/run/{id}``, ``/result``, ``/result/{id}``: each result is opened with
  this node's private key, bound to (task uid, run organization, "result"), so the
  algorithm receives base64 of plain serialized JSON.
* ``GET /run/{id}/result`` (a result too big to inline): the raw bytes, opened the same
  way in constant memory.
* ``POST /progress``: the run's progress, handled by the node itself and never forwarded
  as such (``progress``, see :mod:`v6lib.node.progress`); 202 when taken.
* ``GET`` of ``/task``, ``/organization``, ``/collaboration``, ``/study``, ``/version``,
  ``/health`` (including ``/task/{id}/wait`` and vantage6's ``/task/{id}/status``) and
  ``/blobstream/status`` (vantage6's algorithm client asks it before each subtask) pass
  through untouched (streamed).

Every request must carry ``Authorization: Bearer <container token>`` of a run in flight
on this node (``authorize``, see :mod:`v6lib.node.run_tokens`): the proxy refuses any
other token (a user's, another node's, its own node's, a finished run's) before it
forwards or decrypts anything, and the server checks the token again. With the Docker
runtime the proxy listens only on its Unix socket; with the process runtime (whose
algorithms share the node's network) on ``127.0.0.1`` too. Errors are JSON with a
``code``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import shutil
import socketserver
import tempfile
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from v6lib.client.tls import tls_session
from v6lib.crypto import TaskBinding
from v6lib.errors import (
    DecryptionError,
    EncryptionError,
    PermissionDenied,
    V6Error,
    ValidationError,
)
from v6lib.node.keys import NodeKeys
from v6lib.node.unix_sockets import listen_unix
from v6lib.rules.progress import ProgressReport

__all__ = ["NodeProxy"]

log = logging.getLogger(__name__)

_PASS_THROUGH = ("task", "organization", "collaboration", "study", "version", "health",
                 "blobstream")
_DECRYPT = ("run", "result")
_CHUNK = 1 << 16
_RAW_RESULT = re.compile(r"/run/(\d+)/result/?")
MAX_BODY = 512 * 1024 * 1024
#: A progress report is a number and a short message: anything longer is refused unread.
MAX_PROGRESS_BODY = 4096


class ProxyError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class NodeProxy:
    """Threaded HTTP proxy between algorithms and the server.

    Args:
        upstream_url: the server's URL including its API path.
        ca_file: the CA bundle to trust for an ``https`` upstream (the node's
            ``server_ca_file``); None: the system's trust store.
        keys: the node's encryption helper (plain pass-through when not encrypted).
        authorize: whether a bearer token may be served: true only for the container
            token of a run in flight on this node.
        api_path: the path prefix algorithms use (their ``API_PATH``).
        host, port: where to listen on TCP (port 0 picks a free port, see :attr:`port`;
            None: no TCP listener at all, only ``unix_socket``).
        unix_socket: listen on this Unix socket (for network-less containers, which
            reach the proxy through it; see :mod:`v6lib.wrappers.proxy_bridge`). A stale
            socket file is replaced; the socket is created ``0600`` and the runtime hands
            it to the container user.
        new_uid: generates task uids (injected for tests).
        organization_id: this node's organization: the initiator of every subtask its
            algorithms create, and so part of their inputs' binding.
        progress: takes ``(container token, JSON body)`` of a ``POST /progress``
            (:meth:`v6lib.node.progress.ProgressRelay.receive`); None: no such endpoint.
    """

    def __init__(
        self,
        *,
        upstream_url: str,
        ca_file: Path | None = None,
        keys: NodeKeys,
        authorize: Callable[[str], bool],
        api_path: str = "/api",
        host: str = "127.0.0.1",
        port: int | None = 0,
        unix_socket: Path | None = None,
        timeout: float = 90.0,
        new_uid: Callable[[], str] = lambda: str(uuid.uuid4()),
        organization_id: int,
        progress: Callable[[str, Any], ProgressReport] | None = None,
    ) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.ca_file = ca_file
        self.keys = keys
        self.authorize = authorize
        self.organization_id = organization_id
        self.progress = progress
        self.api_path = "/" + api_path.strip("/") if api_path.strip("/") else ""
        self.timeout = timeout
        self.new_uid = new_uid
        self._tasks: dict[int, TaskBinding] = {}
        self._local = threading.local()
        if port is None and unix_socket is None:
            raise ValueError("the proxy needs a TCP port or a Unix socket to listen on")
        handler = _handler_for(self)
        self._server: ThreadingHTTPServer | None = None
        if port is not None:
            self._server = ThreadingHTTPServer((host, port), handler)
            self._server.daemon_threads = True
        self.unix_socket = Path(unix_socket) if unix_socket is not None else None
        self._unix_server = (_unix_server(self.unix_socket, handler)
                             if unix_socket and self.unix_socket is not None else None)
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        """The TCP port listened on; 0 when the proxy listens only on its Unix socket."""
        return int(self._server.server_address[1]) if self._server is not None else 0

    @property
    def host(self) -> str:
        return str(self._server.server_address[0]) if self._server is not None else ""

    def start(self) -> int:
        for server in self._servers():
            thread = threading.Thread(target=server.serve_forever, name="node-proxy",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        where = [f"{self.host}:{self.port}"] if self._server is not None else []
        where += [str(self.unix_socket)] if self.unix_socket is not None else []
        log.info("proxy listening on %s", " and ".join(where))
        return self.port

    def stop(self) -> None:
        for server in self._servers():
            server.shutdown()
            server.server_close()
        if self.unix_socket is not None:
            self.unix_socket.unlink(missing_ok=True)

    def _servers(self) -> list[socketserver.BaseServer]:
        return [s for s in (self._server, self._unix_server) if s is not None]

    # -- upstream -----------------------------------------------------------------------
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = tls_session(self.ca_file)
        session: requests.Session = self._local.session
        return session

    def upstream(self, method: str, path_qs: str, token: str, *, json_body: Any = None,
                 stream: bool = False) -> requests.Response:
        try:
            return self.session().request(
                method, f"{self.upstream_url}{path_qs}", json=json_body, stream=stream,
                headers={"Authorization": f"Bearer {token}"}, timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ProxyError(502, "server_unavailable",
                             f"the node proxy cannot reach the server: {exc}") from exc

    def task_binding(self, task_id: int, token: str) -> TaskBinding:
        """What the payloads of ``task_id`` are bound to (asked once per task)."""
        if task_id in self._tasks:
            return self._tasks[task_id]
        resp = self.upstream("GET", f"/task/{task_id}", token)
        if not resp.ok:
            raise ProxyError(resp.status_code, "not_found", f"cannot read task {task_id}")
        try:
            task = TaskBinding.of(resp.json())
        except EncryptionError as exc:
            raise ProxyError(502, exc.code, exc.message) from exc
        self._tasks[task_id] = task
        return task

    # -- transformations ----------------------------------------------------------------
    def seal_task(self, body: Any) -> Any:
        """Seal each organization's input of a subtask (encrypted collaborations)."""
        if not isinstance(body, dict) or not isinstance(body.get("organizations"), list):
            raise ProxyError(400, "validation_error",
                             "POST /task needs a JSON object with an 'organizations' list")
        if not self.keys.encrypted:
            return body
        if not isinstance(body.get("image"), str) or not body["image"]:
            raise ProxyError(400, "validation_error",
                             "POST /task needs the subtask's 'image' (its parent's image)")
        uid = str(body.get("uid") or self.new_uid())
        body = {**body, "uid": uid}
        task = TaskBinding(uid, body["image"], self.organization_id)
        sealed = []
        for i, org in enumerate(body["organizations"]):
            if not isinstance(org, dict) or not isinstance(org.get("id"), int):
                raise ProxyError(400, "validation_error",
                                 f"organizations[{i}] needs an integer 'id'")
            try:
                plain = base64.b64decode(org.get("input") or "", validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ProxyError(400, "validation_error",
                                 f"organizations[{i}].input is not valid base64: {exc}") from exc
            try:
                blob = self.keys.seal_input(plain, task, org["id"])
            except EncryptionError as exc:
                raise ProxyError(400, exc.code, exc.message) from exc
            sealed.append({**org, "input": base64.b64encode(blob).decode("ascii")})
        body["organizations"] = sealed
        return body

    def open_results(self, body: Any, token: str) -> Any:
        """Replace each sealed ``result`` by base64 of its plaintext."""
        if not self.keys.encrypted:
            return body
        items = body.get("data") if isinstance(body, dict) and "data" in body else [body]
        for item in items or []:
            if not isinstance(item, dict) or not item.get("result"):
                continue
            task = self.task_binding(int(item["task_id"]), token)
            try:
                plain = self.keys.open(base64.b64decode(item["result"]),
                                       task.result(int(item["organization_id"])))
            except (DecryptionError, binascii.Error, ValueError) as exc:
                code = getattr(exc, "code", "decryption_error")
                raise ProxyError(502, code, f"result of run {item.get('run_id', item.get('id'))}"
                                 f" cannot be decrypted by this node: {exc}") from exc
            item["result"] = base64.b64encode(plain).decode("ascii")
        return body


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _unix_server(path: Path, handler: type[BaseHTTPRequestHandler]) -> _UnixHTTPServer:
    """Listen on ``path`` (owner-only; replacing a socket left by an earlier life)."""
    return listen_unix(path, _UnixHTTPServer, handler)


def _handler_for(proxy: NodeProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(_ProxyHandler):
        pass

    Handler.proxy = proxy
    return Handler


class _ProxyHandler(BaseHTTPRequestHandler):
    proxy: NodeProxy
    protocol_version = "HTTP/1.1"
    server_version = "v6lib-node-proxy"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("proxy: " + format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    # -- dispatch -----------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        try:
            token = self._token()
            if not self.proxy.authorize(token):
                self._discard_body()
                raise ProxyError(403, "permission_denied",
                                 "the node proxy serves only the container token of a run "
                                 "in flight on this node")
            path_qs = self._relative_path()
            resource = urlsplit(path_qs).path.strip("/").split("/")[0]
            raw_result = _RAW_RESULT.fullmatch(urlsplit(path_qs).path)
            if method == "POST" and urlsplit(path_qs).path.rstrip("/") == "/progress":
                self._progress(token)
            elif method == "POST" and resource == "task" and urlsplit(path_qs).path.rstrip(
                    "/") == "/task":
                self._create_task(path_qs, token)
            elif method == "GET" and raw_result:
                self._raw_result(int(raw_result.group(1)), path_qs, token)
            elif method == "GET" and resource in _DECRYPT:
                resp = self.proxy.upstream("GET", path_qs, token)
                if not resp.ok:
                    self._send_raw(resp.status_code, resp.content, resp.headers)
                    return
                self._send_json(200, self.proxy.open_results(resp.json(), token))
            elif method == "GET" and resource in _PASS_THROUGH:
                self._stream(self.proxy.upstream("GET", path_qs, token, stream=True))
            else:
                raise ProxyError(405, "method_not_allowed",
                                 f"{method} /{resource} is not available to algorithms")
        except ProxyError as exc:
            self._send_json(exc.status, {"code": exc.code, "message": exc.message})
        except V6Error as exc:
            self._send_json(502, exc.to_dict())
        except Exception:  # keep the proxy alive; the algorithm gets a JSON error
            log.exception("proxy: unexpected error on %s %s", method, self.path)
            self._send_json(500, {"code": "internal_error",
                                  "message": "the node proxy failed; see the node's log"})

    def _token(self) -> str:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self._discard_body()
            raise ProxyError(401, "authentication_error",
                             "the node proxy only forwards requests that carry a container "
                             "token (Authorization: Bearer <token>)")
        return token.strip()

    def _relative_path(self) -> str:
        prefix = self.proxy.api_path
        if prefix and not (self.path == prefix or self.path.startswith(prefix + "/")
                           or self.path.startswith(prefix + "?")):
            raise ProxyError(404, "not_found", f"the node proxy serves only {prefix}/...")
        rest = self.path[len(prefix):] or "/"
        if ".." in urlsplit(rest).path.split("/"):
            raise ProxyError(400, "validation_error", "'..' is not allowed in a path")
        return rest

    def _read_body(self, limit: int = MAX_BODY) -> bytes:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise ProxyError(411, "validation_error", "a Content-Length header is required")
        try:
            length = int(length_header)
        except ValueError as exc:
            raise ProxyError(400, "validation_error", "Content-Length is not a number") from exc
        if length > limit:
            self.close_connection = True  # the unread body must not read as a request
            raise ProxyError(413, "payload_too_large",
                             f"request body of {length} bytes exceeds {limit} bytes")
        return self.rfile.read(length)

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(min(int(length), MAX_BODY))

    def _json_body(self, limit: int = MAX_BODY) -> Any:
        try:
            return json.loads(self._read_body(limit) or b"null")
        except ValueError as exc:
            raise ProxyError(400, "validation_error", f"request body is not JSON: {exc}") from exc

    def _progress(self, token: str) -> None:
        if self.proxy.progress is None:
            self._discard_body()
            raise ProxyError(404, "not_found", "this node takes no progress reports")
        body = self._json_body(MAX_PROGRESS_BODY)
        try:
            report = self.proxy.progress(token, body)
        except (ValidationError, PermissionDenied) as exc:
            status = 403 if isinstance(exc, PermissionDenied) else 400
            raise ProxyError(status, exc.code, exc.message) from exc
        self._send_json(202, {"progress": report.fraction})

    def _create_task(self, path_qs: str, token: str) -> None:
        body = self._json_body()
        sealed = self.proxy.seal_task(body)
        resp = self.proxy.upstream("POST", path_qs, token, json_body=sealed)
        self._send_raw(resp.status_code, resp.content, resp.headers)

    def _raw_result(self, run_id: int, path_qs: str, token: str) -> None:
        """A result too big to inline: streamed through, opened on the way when sealed.

        The plaintext goes to a temporary file first (constant memory), so the algorithm
        gets a Content-Length and a decryption error is still a JSON answer.
        """
        resp = self.proxy.upstream("GET", path_qs, token, stream=True)
        if not resp.ok or not self.proxy.keys.encrypted:
            self._stream(resp)
            return
        with resp, tempfile.TemporaryFile() as plain:
            run = self.proxy.upstream("GET", f"/run/{run_id}", token)
            if not run.ok:
                self._send_raw(run.status_code, run.content, run.headers)
                return
            details = run.json()
            task = self.proxy.task_binding(int(details["task_id"]), token)
            try:
                self.proxy.keys.open_stream(resp.raw, plain,
                                            task.result(int(details["organization_id"])))
            except (DecryptionError, EncryptionError) as exc:
                raise ProxyError(502, exc.code, f"result of run {run_id} cannot be "
                                 f"decrypted by this node: {exc}") from exc
            size = plain.tell()
            plain.seek(0)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            shutil.copyfileobj(plain, self.wfile, _CHUNK)

    # -- responses ----------------------------------------------------------------------
    def _send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        self._send_raw(status, data, {"Content-Type": "application/json"})

    def _send_raw(self, status: int, data: bytes, headers: Any) -> None:
        self.send_response(status)
        self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, resp: requests.Response) -> None:
        length = resp.headers.get("Content-Length")
        if length is None or resp.headers.get("Content-Encoding"):
            self._send_raw(resp.status_code, resp.content, resp.headers)
            return
        self.send_response(resp.status_code)
        self.send_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", length)
        self.end_headers()
        for chunk in resp.raw.stream(_CHUNK, decode_content=False):
            self.wfile.write(chunk)
        resp.close()
