"""HttpAlgorithmApi against a real HTTP server on 127.0.0.1: the exact requests it sends."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from v6lib import serialization
from v6lib.client.algorithm_api import (
    AlgorithmApi,
    HttpAlgorithmApi,
    decode_payload,
    encode_payload,
)
from v6lib.client.transport import Transport
from v6lib.errors import AlgorithmError, NotFoundError, SerializationError
from v6lib.wrappers.context import RunMetadata

META = RunMetadata(task_id=10, organization_id=2, collaboration_id=1, image="avg:1")
TOKEN = "container-token"


class Recorder:
    """Routes (method, path regex) to handlers and records what arrived."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Callable[[dict[str, Any]], Any]]] = []
        self.seen: list[dict[str, Any]] = []

    def on(self, method: str, pattern: str, answer: Any) -> None:
        handler = answer if callable(answer) else (lambda _r, a=answer: (200, a))
        self.routes.insert(0, (method, re.compile(f"^{pattern}$"), handler))


@pytest.fixture
def server() -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = {"method": self.command, "path": parts.path,
                       "params": dict(parse_qsl(parts.query)),
                       "body": json.loads(self.rfile.read(length)) if length else None,
                       "auth": self.headers.get("Authorization")}
            recorder.seen.append(request)
            status, answer = 404, {"code": "not_found", "message": f"no {parts.path}"}
            for method, pattern, handler in recorder.routes:
                if method == self.command and pattern.match(parts.path):
                    status, answer = handler(request)
                    break
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield recorder, f"http://127.0.0.1:{httpd.server_address[1]}/api"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def api(server: tuple[Recorder, str]) -> HttpAlgorithmApi:
    transport = Transport(server[1], timeout=10)
    transport.token = TOKEN
    return HttpAlgorithmApi(transport, META)


def page(items: list[Any], has_next: bool = False) -> dict[str, Any]:
    links = {"first": "f", "self": "s", "last": "l"}
    if has_next:
        links["next"] = "n"
    return {"data": items, "links": links, "total": len(items), "page": 1, "per_page": 100}


def test_satisfies_the_protocol(api: HttpAlgorithmApi) -> None:
    assert isinstance(api, AlgorithmApi)


def test_create_task_request(server: tuple[Recorder, str], api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("POST", "/api/task", lambda r: (201, {"id": 5, "name": r["body"]["name"]}))
    task = api.create_task(name="partials", description="d", organizations=[3, 2],
                           input_={"method": "m", "args": [float("nan")], "kwargs": {}},
                           databases=[{"label": "default", "query": None}])
    assert task == {"id": 5, "name": "partials"}
    [request] = recorder.seen
    assert request["auth"] == f"Bearer {TOKEN}"
    body = request["body"]
    inputs = [o.pop("input") for o in body["organizations"]]
    assert body == {"name": "partials", "description": "d", "collaboration_id": 1,
                    "image": "avg:1", "organizations": [{"id": 3}, {"id": 2}],
                    "databases": [{"label": "default", "query": None}]}
    assert inputs[0] == inputs[1]
    decoded = serialization.loads(base64.b64decode(inputs[0]))
    assert decoded["method"] == "m" and decoded["args"][0] != decoded["args"][0]  # NaN kept


def test_create_task_without_databases_omits_them(server: tuple[Recorder, str]) -> None:
    recorder, url = server
    recorder.on("POST", "/api/task", {"id": 1})
    api = HttpAlgorithmApi(Transport(url), RunMetadata())
    api.create_task(name="n", description="", organizations=[2], input_={"method": "m"},
                    databases=None)
    assert set(recorder.seen[0]["body"]) == {"name", "description", "organizations"}


def test_wait_long_polls_until_finished(server: tuple[Recorder, str],
                                        api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    answers = iter([{"id": 7, "status": "active"}, {"id": 7, "status": "pending"},
                    {"id": 7, "status": "completed"}])

    def wait(request: dict[str, Any]) -> tuple[int, Any]:
        time.sleep(0.05)  # the server holds the request
        return 200, next(answers)

    recorder.on("GET", "/api/task/7/wait", wait)
    assert api.wait_for_task(7, timeout=None)["status"] == "completed"
    assert [r["params"] for r in recorder.seen] == [{"timeout": "60"}] * 3


def test_wait_respects_the_overall_timeout(server: tuple[Recorder, str],
                                           api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/task/7/wait", lambda r: (200, {"id": 7, "status": "active"}))
    started = time.monotonic()
    task = api.wait_for_task(7, timeout=1.5)
    assert task["status"] == "active"
    assert time.monotonic() - started < 5
    assert recorder.seen[0]["params"] == {"timeout": "2"}
    assert len(recorder.seen) <= 5  # the answered-at-once guard keeps it from spinning


def test_wait_checks_runs_when_task_status_is_unknown(server: tuple[Recorder, str],
                                                      api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/task/7/wait", {"id": 7})
    recorder.on("GET", "/api/run", page([{"id": 1, "status": "failed"},
                                         {"id": 2, "status": "completed"}]))
    assert api.wait_for_task(7, timeout=10) == {"id": 7}
    assert recorder.seen[1]["params"]["task_id"] == "7"


def test_get_runs_decodes_results_across_pages(server: tuple[Recorder, str],
                                               api: HttpAlgorithmApi) -> None:
    recorder, _ = server

    def runs(request: dict[str, Any]) -> tuple[int, Any]:
        if request["params"]["page"] == "1":
            return 200, page([{"id": 1, "organization_id": 2, "status": "completed",
                               "result": encode_payload({"sum": 3}), "log": "ok"}],
                             has_next=True)
        return 200, page([{"id": 2, "organization_id": 3, "status": "failed",
                           "result": None, "log": "Traceback"}])

    recorder.on("GET", "/api/run", runs)
    got = api.get_runs(9)
    assert [(r["organization_id"], r["status"], r["result"], r["log"]) for r in got] == [
        (2, "completed", {"sum": 3}, "ok"), (3, "failed", None, "Traceback")]
    assert [r["params"]["task_id"] for r in recorder.seen] == ["9", "9"]


def test_corrupt_result_is_a_serialization_error(server: tuple[Recorder, str],
                                                 api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/run", page([{"id": 4, "organization_id": 3, "status":
                                          "completed", "result": "%%%", "log": ""}]))
    with pytest.raises(SerializationError, match=r"result of run 4 \(organization 3\)"):
        api.get_runs(1)


def test_organizations_and_collaboration(server: tuple[Recorder, str],
                                         api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/organization", page([{"id": 2}, {"id": 3}]))
    recorder.on("GET", "/api/organization/3", {"id": 3, "name": "B"})
    recorder.on("GET", "/api/collaboration/1", {"id": 1, "organization_ids": [2, 3]})
    assert [o["id"] for o in api.get_organizations()] == [2, 3]
    assert recorder.seen[0]["params"]["collaboration_id"] == "1"
    assert api.get_organization(3)["name"] == "B"
    assert api.get_collaboration()["organization_ids"] == [2, 3]


def test_server_errors_keep_their_class(server: tuple[Recorder, str],
                                        api: HttpAlgorithmApi) -> None:
    with pytest.raises(NotFoundError, match="no /api/organization/99"):
        api.get_organization(99)


def test_collaboration_unknown_without_claims(server: tuple[Recorder, str]) -> None:
    api = HttpAlgorithmApi(Transport(server[1]), RunMetadata())
    with pytest.raises(AlgorithmError, match="names no collaboration"):
        api.get_collaboration()


def test_payload_round_trip() -> None:
    assert decode_payload(encode_payload({"a": [1, 2.5, None]})) == {"a": [1, 2.5, None]}
    assert decode_payload(None) is None and decode_payload("") is None
