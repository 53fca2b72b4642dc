"""The node proxy against a fake upstream server: tokens, sealing inputs, opening results."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.tls_certificate import self_signed_certificate, speak_tls
from v6lib.crypto import Binding, generate_private_key, open_sealed, seal
from v6lib.node.keys import NodeKeys
from v6lib.node.proxy import NodeProxy
from v6lib.wrappers.proxy_bridge import start_from_environ

OWN = generate_private_key(2048)  # organization 1: this node
OTHER = generate_private_key(2048)  # organization 2
UID = "11111111-2222-4333-8444-555555555555"
TASK10 = {"id": 10, "uid": UID, "image": "img", "init_org_id": 1}


class Upstream:
    """Records requests and answers like the server would."""

    def __init__(self, tls_folder: Path | None = None) -> None:
        self.requests: list[tuple[str, str, str | None, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.raw_result = b""
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                upstream.requests.append(("GET", self.path, self.headers.get("Authorization"),
                                          None))
                if self.path == "/api/run/5/result":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(upstream.raw_result)))
                    self.end_headers()
                    self.wfile.write(upstream.raw_result)
                elif self.path == "/api/run/5":
                    self._answer(200, {"id": 5, "task_id": 10, "organization_id": 2,
                                       "result": None, "result_size": 1})
                elif self.path.startswith(("/api/run", "/api/result")):
                    self._answer(200, {"data": upstream.runs, "links": {}, "total": 2,
                                       "page": 1, "per_page": 10})
                elif self.path == "/api/task/10":
                    self._answer(200, TASK10)
                elif self.path.startswith("/api/task/10/wait"):
                    self._answer(200, {"id": 10, "status": "completed"})
                else:
                    self._answer(404, {"code": "not_found", "message": self.path})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                upstream.requests.append(("POST", self.path, self.headers.get("Authorization"),
                                          body))
                self._answer(201, {"id": 10, "uid": body.get("uid")})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.ca_file = None if tls_folder is None else speak_tls(self.server, tls_folder)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        scheme = "http" if tls_folder is None else "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/api"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.server.shutdown()
    up.server.server_close()


def _in_flight(token: str) -> bool:
    """The proxy's token rule in these tests: one run in flight, "container-token"."""
    return token == "container-token"


def make_proxy(upstream: Upstream, encrypted: bool, ca_file: Path | None = None) -> NodeProxy:
    orgs = {1: OWN, 2: OTHER}
    from v6lib.crypto import public_key_b64

    keys = NodeKeys(encrypted=encrypted, private_key=OWN if encrypted else None,
                    organization_getter=lambda i: {"id": i,
                                                   "public_key": public_key_b64(orgs[i])})
    proxy = NodeProxy(upstream_url=upstream.url, keys=keys, authorize=_in_flight,
                      new_uid=lambda: UID, organization_id=1, ca_file=ca_file)
    proxy.start()
    return proxy


@pytest.fixture
def enc_proxy(upstream: Upstream) -> Iterator[NodeProxy]:
    proxy = make_proxy(upstream, encrypted=True)
    yield proxy
    proxy.stop()


def url(proxy: NodeProxy, path: str) -> str:
    return f"http://127.0.0.1:{proxy.port}/api{path}"


AUTH = {"Authorization": "Bearer container-token"}


def test_requests_without_token_are_refused(upstream: Upstream, enc_proxy: NodeProxy) -> None:
    for method, path in (("GET", "/run?task_id=10"), ("POST", "/task")):
        resp = requests.request(method, url(enc_proxy, path), json={}, timeout=5)
        assert resp.status_code == 401
        assert resp.json()["code"] == "authentication_error"
        assert "container token" in resp.json()["message"]
    assert upstream.requests == []


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/run?task_id=10"), ("GET", "/result/21"), ("GET", "/run/5/result"),
    ("GET", "/task/10"), ("POST", "/task")])
def test_a_token_of_no_run_in_flight_is_refused_before_anything_is_forwarded(
        upstream: Upstream, enc_proxy: NodeProxy, method: str, path: str) -> None:
    body = {"organizations": [{"id": 2, "input": base64.b64encode(b"{}").decode()}]}
    for token in ("a-users-token", "the-nodes-own-token", "container-token-of-a-done-run"):
        resp = requests.request(method, url(enc_proxy, path), json=body, timeout=5,
                                headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 403, resp.text
        assert resp.json() == {"code": "permission_denied", "message":
                               "the node proxy serves only the container token of a run "
                               "in flight on this node"}
    assert upstream.requests == []


def test_a_proxy_needs_somewhere_to_listen(upstream: Upstream) -> None:
    keys = NodeKeys(encrypted=False, private_key=None, organization_getter=lambda i: {})
    with pytest.raises(ValueError, match="TCP port or a Unix socket"):
        NodeProxy(upstream_url=upstream.url, keys=keys, authorize=_in_flight, port=None,
                  organization_id=1)


def test_subtask_input_is_sealed_per_organization(upstream: Upstream,
                                                  enc_proxy: NodeProxy) -> None:
    inputs = {1: b'{"method": "partial", "args": [1]}', 2: b'{"method": "partial", "args": [2]}'}
    body = {"collaboration_id": 1, "name": "sub", "image": "img", "databases": [],
            "organizations": [{"id": i, "input": base64.b64encode(v).decode()}
                              for i, v in inputs.items()]}
    resp = requests.post(url(enc_proxy, "/task"), json=body, headers=AUTH, timeout=10)
    assert resp.status_code == 201
    method, path, auth, sent = upstream.requests[-1]
    assert (method, path, auth) == ("POST", "/api/task", "Bearer container-token")
    assert sent["uid"] == UID
    keys = {1: OWN, 2: OTHER}
    for org in sent["organizations"]:
        blob = base64.b64decode(org["input"])
        assert blob != inputs[org["id"]]
        assert open_sealed(blob, keys[org["id"]], Binding(UID, org["id"], "input", "img", 1)) == \
            inputs[org["id"]]


def test_results_are_opened_for_the_algorithm(upstream: Upstream, enc_proxy: NodeProxy) -> None:
    upstream.runs = [
        {"id": 21, "task_id": 10, "organization_id": 2, "status": "completed",
         "result": base64.b64encode(seal(b'{"n": 2}', [OWN.public_key()],
                                         Binding(UID, 2, "result", "img", 1))).decode()},
        {"id": 22, "task_id": 10, "organization_id": 3, "status": "failed", "result": None},
    ]
    resp = requests.get(url(enc_proxy, "/run?task_id=10"), headers=AUTH, timeout=10)
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert base64.b64decode(data[0]["result"]) == b'{"n": 2}'
    assert data[1]["result"] is None


def test_result_with_wrong_binding_is_a_clear_error(upstream: Upstream,
                                                    enc_proxy: NodeProxy) -> None:
    upstream.runs = [{"id": 21, "task_id": 10, "organization_id": 2, "status": "completed",
                      "result": base64.b64encode(seal(
                          b"1", [OWN.public_key()], Binding(UID, 3, "result", "img", 1))).decode()}]
    resp = requests.get(url(enc_proxy, "/result?task_id=10"), headers=AUTH, timeout=10)
    assert resp.status_code == 502
    assert resp.json()["code"] == "binding_mismatch"


def test_pass_through_and_refusals(upstream: Upstream, enc_proxy: NodeProxy) -> None:
    resp = requests.get(url(enc_proxy, "/task/10/wait?timeout=5"), headers=AUTH, timeout=10)
    assert resp.json() == {"id": 10, "status": "completed"}
    assert upstream.requests[-1][1] == "/api/task/10/wait?timeout=5"
    assert requests.delete(url(enc_proxy, "/task/10"), headers=AUTH, timeout=5).status_code == 405
    assert requests.get(url(enc_proxy, "/user"), headers=AUTH, timeout=5).status_code == 405
    outside = requests.get(f"http://127.0.0.1:{enc_proxy.port}/other", headers=AUTH, timeout=5)
    assert outside.status_code == 404


def test_an_https_server_is_trusted_through_the_configured_ca_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's ``server_ca_file`` reaches the requests algorithms make through the
    proxy; without it (or with another bundle in the environment) the server's
    self-signed certificate is refused and the algorithm gets a 502."""
    upstream = Upstream(tls_folder=tmp_path)
    (tmp_path / "other").mkdir()
    other_ca, _ = self_signed_certificate(tmp_path / "other")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    trusting, plain = make_proxy(upstream, False, upstream.ca_file), make_proxy(upstream, False)
    try:
        answer = requests.get(url(trusting, "/task/10"), headers=AUTH, timeout=10)
        assert answer.status_code == 200 and answer.json()["uid"] == UID
        refused = requests.get(url(plain, "/task/10"), headers=AUTH, timeout=10)
        assert refused.status_code == 502
        assert "CERTIFICATE_VERIFY_FAILED" in refused.json()["message"]
    finally:
        for proxy in (trusting, plain):
            proxy.stop()
        upstream.server.shutdown()
        upstream.server.server_close()


@pytest.mark.parametrize("path", ["/task/10/status", "/blobstream/status"])
def test_vantage6_algorithm_clients_calls_reach_the_server(upstream: Upstream,
                                                         enc_proxy: NodeProxy, path: str) -> None:
    # vantage6's AlgorithmClient polls the first while it waits, asks the second per subtask
    requests.get(url(enc_proxy, path), headers=AUTH, timeout=10)
    assert upstream.requests[-1][:2] == ("GET", f"/api{path}")
    assert requests.post(url(enc_proxy, path), headers=AUTH, timeout=5).status_code == 405


def test_bad_requests_get_json_errors(upstream: Upstream, enc_proxy: NodeProxy) -> None:
    bad_json = requests.post(url(enc_proxy, "/task"), data=b"{nope", headers=AUTH, timeout=5)
    assert bad_json.status_code == 400 and "not JSON" in bad_json.json()["message"]
    no_orgs = requests.post(url(enc_proxy, "/task"), json={"x": 1}, headers=AUTH, timeout=5)
    assert no_orgs.status_code == 400 and "organizations" in no_orgs.json()["message"]
    bad_b64 = requests.post(url(enc_proxy, "/task"), headers=AUTH, timeout=5,
                            json={"image": "img", "organizations": [{"id": 2, "input": "***"}]})
    assert bad_b64.status_code == 400 and "base64" in bad_b64.json()["message"]
    no_image = requests.post(url(enc_proxy, "/task"), headers=AUTH, timeout=5,
                             json={"organizations": [{"id": 2, "input": "e30="}]})
    assert no_image.status_code == 400 and "image" in no_image.json()["message"]


def test_plain_collaboration_passes_payloads_unchanged(upstream: Upstream) -> None:
    proxy = make_proxy(upstream, encrypted=False)
    try:
        body = {"organizations": [{"id": 2, "input": base64.b64encode(b"{}").decode()}]}
        requests.post(url(proxy, "/task"), json=body, headers=AUTH, timeout=5)
        assert upstream.requests[-1][3] == body
        upstream.runs = [{"id": 1, "task_id": 10, "organization_id": 2, "result": "e30="}]
        resp = requests.get(url(proxy, "/run?task_id=10"), headers=AUTH, timeout=5)
        assert resp.json()["data"][0]["result"] == "e30="
    finally:
        proxy.stop()


def test_subtask_databases_pass_through_untouched(upstream: Upstream,
                                                 enc_proxy: NodeProxy) -> None:
    """The server gives a subtask without databases its parent's; the proxy adds none."""
    body = {"image": "img",
            "organizations": [{"id": 2, "input": base64.b64encode(b"{}").decode()}]}
    requests.post(url(enc_proxy, "/task"), json=body, headers=AUTH, timeout=10)
    assert "databases" not in upstream.requests[-1][3]
    explicit = {**body, "databases": [{"label": "other"}]}
    requests.post(url(enc_proxy, "/task"), json=explicit, headers=AUTH, timeout=10)
    assert upstream.requests[-1][3]["databases"] == [{"label": "other"}]


def test_unix_socket_serves_algorithms_without_a_network(upstream: Upstream,
                                                         tmp_path: Path) -> None:
    socket_path = tmp_path / "proxy" / "proxy.sock"
    socket_path.parent.mkdir()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(socket_path))  # left by an earlier life of the node
    stale.close()
    keys = NodeKeys(encrypted=False, private_key=None, organization_getter=lambda i: {})
    proxy = NodeProxy(upstream_url=upstream.url, keys=keys, authorize=_in_flight, port=None,
                      unix_socket=socket_path, organization_id=1)
    proxy.start()
    try:
        assert proxy.port == 0  # no TCP listener: only the socket
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
        bridge = start_from_environ({"PROXY_SOCKET": str(socket_path), "PORT": "0"})
        assert bridge is not None
        try:
            resp = requests.get(f"http://127.0.0.1:{bridge.port}/api/task/10", headers=AUTH,
                                timeout=5)
            assert resp.status_code == 200 and resp.json() == TASK10
            refused = requests.get(f"http://127.0.0.1:{bridge.port}/api/task/10", timeout=5)
            assert refused.status_code == 401
        finally:
            bridge.close()
        assert upstream.requests[-1][:3] == ("GET", "/api/task/10", "Bearer container-token")
    finally:
        proxy.stop()
    assert not socket_path.exists()


def test_unix_socket_in_a_directory_of_any_length(upstream: Upstream, tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "proxy"
    socket_path = deep / "proxy.sock"
    assert len(str(socket_path)) > 108  # beyond what bind() takes as a path
    keys = NodeKeys(encrypted=False, private_key=None, organization_getter=lambda i: {})
    proxy = NodeProxy(upstream_url=upstream.url, keys=keys, authorize=_in_flight, port=None,
                      unix_socket=socket_path, organization_id=1)
    proxy.start()
    try:
        assert socket_path.is_socket()
        directory = os.open(deep, os.O_RDONLY | os.O_DIRECTORY)
        client = socket.socket(socket.AF_UNIX)
        try:  # a container sees it at a short path; here the descriptor gives one
            client.connect(f"/proc/self/fd/{directory}/proxy.sock")
            client.sendall(b"GET /api/task/10 HTTP/1.0\r\n"
                           b"Authorization: Bearer container-token\r\n\r\n")
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        finally:
            client.close()
            os.close(directory)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(json.dumps(TASK10).encode())
    finally:
        proxy.stop()
    assert not socket_path.exists()


def test_a_big_raw_result_is_opened_on_its_way(upstream: Upstream, enc_proxy: NodeProxy) -> None:
    plain = bytes(range(256)) * 40_000  # 10 MB, several envelope chunks
    upstream.raw_result = seal(plain, [OWN.public_key()], Binding(UID, 2, "result", "img", 1))
    resp = requests.get(url(enc_proxy, "/run/5/result"), headers=AUTH, timeout=30)
    assert resp.status_code == 200 and resp.content == plain
    assert resp.headers["Content-Length"] == str(len(plain))
    upstream.raw_result = seal(plain, [OWN.public_key()], Binding(UID, 3, "result", "img", 1))
    wrong = requests.get(url(enc_proxy, "/run/5/result"), headers=AUTH, timeout=30)
    assert wrong.status_code == 502 and "cannot be decrypted" in wrong.json()["message"]


def test_a_big_raw_result_of_a_plain_collaboration_passes_through(upstream: Upstream) -> None:
    proxy = make_proxy(upstream, encrypted=False)
    try:
        upstream.raw_result = b'{"big": true}'
        resp = requests.get(url(proxy, "/run/5/result"), headers=AUTH, timeout=30)
        assert resp.status_code == 200 and resp.content == b'{"big": true}'
    finally:
        proxy.stop()
