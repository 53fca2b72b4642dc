"""``v6 task``: create/status/results through a real HTTP round trip to a fake server.

The fake server (a thread) answers just enough of the API for the task commands.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner

from tests.tls_certificate import speak_tls
from v6lib import serialization
from v6lib.cli import main


class FakeFederation:
    """Just enough server for the task commands: one collaboration, tasks with runs."""

    def __init__(self) -> None:
        self.tasks: dict[int, dict[str, Any]] = {}
        self.runs: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, Any]] = []
        self.run_outcome: dict[int, tuple[str, Any, str]] = {}  # org -> (status, result, log)
        self.progress: dict[int, tuple[float, str | None]] = {}  # org -> (fraction, message)

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               auth: str | None) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if path == "/api/token/user":
            if body.get("password") != "pw":
                return 401, {"code": "authentication_error", "message": "invalid credentials"}
            return 200, {"access_token": "t", "refresh_token": "r", "user_url": "/api/user/1",
                         "refresh_url": "/api/token/refresh"}
        if auth != "Bearer t":
            return 401, {"code": "authentication_error", "message": "no token"}
        return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str],
               body: Any) -> tuple[int, Any]:
        parts = path.removeprefix("/api/").split("/")
        if parts[0] == "collaboration":
            return 200, {"id": 1, "name": "c", "encrypted": False, "organization_ids": [2, 3]}
        if parts == ["task"] and method == "POST":
            return 200, self._create(body)
        if parts[0] == "task" and len(parts) >= 2:
            task = self.tasks.get(int(parts[1]))
            if task is None:
                return 404, {"code": "not_found", "message": f"task {parts[1]} not found"}
            return 200, task
        if parts == ["run"]:
            runs = [r for r in self.runs if str(r["task_id"]) == query.get("task_id")]
            return 200, {"data": runs, "links": {"first": "", "self": "", "last": ""},
                         "total": len(runs), "page": 1, "per_page": 100}
        return 404, {"code": "not_found", "message": f"no route {path}"}

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        task_id = len(self.tasks) + 1
        statuses = []
        for org in body["organizations"]:
            status, result, log = self.run_outcome.get(org["id"], ("completed", None, ""))
            encoded = base64.b64encode(serialization.dumps(result)).decode() \
                if status == "completed" else None
            self.runs.append({"id": len(self.runs) + 1, "task_id": task_id,
                              "organization_id": org["id"], "status": status,
                              "result": encoded, "log": log, "reason": None,
                              "input": org["input"],
                              "progress": self.progress.get(org["id"], (None, None))[0],
                              "progress_message": self.progress.get(org["id"],
                                                                    (None, None))[1]})
            statuses.append(status)
        overall = "completed" if all(s == "completed" for s in statuses) else "failed"
        self.tasks[task_id] = {"id": task_id, "uid": body["uid"], "name": body["name"],
                               "image": body["image"], "collaboration_id": 1,
                               "status": overall, "created_at": "2026-01-01T00:00:00Z",
                               "max_run_seconds": body.get("max_run_seconds")}
        return self.tasks[task_id]


@contextlib.contextmanager
def serving(fake: FakeFederation, tls_folder: Path | None = None
            ) -> Iterator[tuple[int, Path | None]]:
    """Serve ``fake`` on a free port (over HTTPS with a new certificate when
    ``tls_folder`` is given): (the port, the certificate or None)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = fake.handle(self.command, parts.path, dict(parse_qsl(parts.query)),
                                         body, self.headers.get("Authorization"))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    certificate = speak_tls(httpd, tls_folder) if tls_folder is not None else None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], certificate
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def federation() -> Iterator[tuple[FakeFederation, int]]:
    fake = FakeFederation()
    with serving(fake) as (port, _):
        yield fake, port


def _run(port: int, *args: str, env: dict[str, str] | None = None) -> Any:
    base_env = {"V6_USERNAME": "researcher", "V6_PASSWORD": "pw", "V6_PORT": str(port)}
    return CliRunner().invoke(main, ["task", *args], env={**base_env, **(env or {})})


def test_create_sends_the_input_and_prints_the_task(federation: Any) -> None:
    fake, port = federation
    result = _run(port, "create", "--collaboration", "1", "--organization", "2",
                  "--organization", "3", "--image", "v6-average:latest",
                  "--method", "partial_average", "--kwargs", '{"column": "age"}', "--json")
    assert result.exit_code == 0, result.output
    task = json.loads(result.output)
    assert task["id"] == 1 and task["name"] == "partial_average"
    posted = next(body for method, path, body in fake.requests
                  if method == "POST" and path == "/api/task")
    assert [o["id"] for o in posted["organizations"]] == [2, 3]
    assert posted["databases"] == [{"label": "default"}]
    decoded = serialization.loads(base64.b64decode(posted["organizations"][0]["input"]))
    assert decoded == {"method": "partial_average", "args": [], "kwargs": {"column": "age"}}


def test_create_passes_the_time_limit_and_shows_it(federation: Any) -> None:
    fake, port = federation
    result = _run(port, "create", "--collaboration", "1", "--organization", "2",
                  "--image", "img", "--method", "m", "--max-run-seconds", "90")
    assert result.exit_code == 0, result.output
    posted = next(b for m, p, b in fake.requests if m == "POST" and p == "/api/task")
    assert posted["max_run_seconds"] == 90
    assert re.search(r"max_run_seconds\s+90", result.output), result.output


def test_create_wait_prints_results_table(federation: Any) -> None:
    fake, port = federation
    fake.run_outcome[2] = ("completed", {"sum": 10, "count": 4}, "")
    result = _run(port, "create", "--collaboration", "1", "--organization", "2",
                  "--image", "img", "--method", "m", "--wait", "--database", "other")
    assert result.exit_code == 0, result.output
    assert '{"sum": 10, "count": 4}' in result.output
    assert "completed" in result.output
    posted = next(b for m, p, b in fake.requests if m == "POST" and p == "/api/task")
    assert posted["databases"] == [{"label": "other"}]


def test_create_wait_shows_each_organizations_progress(federation: Any) -> None:
    fake, port = federation
    fake.progress = {2: (0.5, "step 5/10"), 3: (1.0, None)}
    result = _run(port, "create", "--collaboration", "1", "--organization", "2",
                  "--organization", "3", "--image", "img", "--method", "m", "--wait")
    assert result.exit_code == 0, result.output
    assert "task 1: organization 2  [##########----------]  50%  step 5/10" in result.stderr
    assert "task 1: organization 3  [####################] 100%\n" in result.stderr


def test_create_wait_exits_70_when_a_run_failed(federation: Any) -> None:
    fake, port = federation
    fake.run_outcome[3] = ("failed", None, "KeyError: 'age'")
    result = _run(port, "create", "--collaboration", "1", "--organization", "2",
                  "--organization", "3", "--image", "img", "--method", "m", "--wait", "--json")
    assert result.exit_code == 70
    document = json.loads(result.output)
    assert [r["status"] for r in document["results"]] == ["completed", "failed"]


def test_status_and_results(federation: Any) -> None:
    fake, port = federation
    fake.run_outcome[2] = ("completed", 41.5, "")
    assert _run(port, "create", "--collaboration", "1", "--organization", "2", "--image",
                "img", "--method", "m").exit_code == 0

    status = _run(port, "status", "1", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["runs"][0]["status"] == "completed"

    results = _run(port, "results", "1", "--json")
    assert results.exit_code == 0, results.output
    assert json.loads(results.output)["results"][0]["result"] == 41.5

    table = _run(port, "results", "1")
    assert "41.5" in table.output and "organization" in table.output


def test_frame_results_are_exact_in_json_and_readable_in_the_table(federation: Any) -> None:
    import pandas as pd

    fake, port = federation
    counts = pd.DataFrame({"sex": ["F", "M", "F"], "site": [1, 1, 2]}).groupby(
        ["sex", "site"]).size()
    fake.run_outcome[2] = ("completed", {"counts": counts}, "")
    assert _run(port, "create", "--collaboration", "1", "--organization", "2", "--image",
                "img", "--method", "m").exit_code == 0

    results = _run(port, "results", "1", "--json")
    sent = json.loads(results.output)["results"][0]["result"]
    back = serialization.loads(json.dumps(sent))["counts"]
    pd.testing.assert_series_equal(back, counts, check_exact=True)

    table = _run(port, "results", "1")
    assert "{'counts': sex site F 1 1" in table.output  # the repr, not base64


def test_unknown_task_exits_66_with_server_message(federation: Any) -> None:
    _, port = federation
    result = _run(port, "status", "99")
    assert result.exit_code == 66
    assert "task 99 not found" in result.output


def test_wrong_password_exits_77(federation: Any) -> None:
    _, port = federation
    result = _run(port, "status", "1", env={"V6_PASSWORD": "nope"})
    assert result.exit_code == 77
    assert "invalid credentials" in result.output


def test_bad_kwargs_json_exits_65_before_contacting_the_server(federation: Any) -> None:
    fake, port = federation
    result = _run(port, "create", "--collaboration", "1", "--organization", "2", "--image",
                  "img", "--method", "m", "--kwargs", "{column: age}")
    assert result.exit_code == 65
    assert "--kwargs is not valid JSON" in result.output
    assert fake.requests == []


def test_unreachable_server_exits_69() -> None:
    result = _run(1, "status", "1")
    assert result.exit_code == 69
    assert "cannot reach" in result.output


def test_an_https_server_with_a_private_ca_is_reached_with_ca_file(tmp_path: Path) -> None:
    fake = FakeFederation()
    with serving(fake, tmp_path) as (port, certificate):
        https = {"V6_SERVER_URL": "https://127.0.0.1"}
        refused = _run(port, "status", "1", env=https)
        assert refused.exit_code != 0
        assert "CERTIFICATE_VERIFY_FAILED" in refused.output
        assert _run(port, "create", "--collaboration", "1", "--organization", "2",
                    "--image", "img", "--method", "m", "--ca-file", str(certificate),
                    env=https).exit_code == 0
        shown = _run(port, "status", "1", "--json", env={**https, "V6_CA_FILE": str(certificate)})
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["task"]["id"] == 1
