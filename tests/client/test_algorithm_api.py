"""HttpAlgorithmApi against a real HTTP server on 127.0.0.1: the exact requests it sends.

What it must share with the MockNetwork's api is in tests/contract.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.wrappers.fake_proxy import FakeProxy, Request, page
from v6lib import errors, serialization
from v6lib.client.algorithm_api import (
    AlgorithmApi,
    HttpAlgorithmApi,
    decode_payload,
    encode_payload,
)
from v6lib.client.transport import Transport
from v6lib.errors import AlgorithmError, NotFoundError, SerializationError
from v6lib.wrappers.metadata import RunMetadata

META = RunMetadata(task_id=10, organization_id=2, collaboration_id=1, image="avg:1")
TOKEN = "container-token"


@pytest.fixture
def server() -> Iterator[tuple[FakeProxy, str]]:
    proxy = FakeProxy().start()
    yield proxy, proxy.url
    proxy.stop()


@pytest.fixture
def api(server: tuple[FakeProxy, str]) -> HttpAlgorithmApi:
    transport = Transport(server[1], timeout=10)
    transport.token = TOKEN
    return HttpAlgorithmApi(transport, META)


def test_satisfies_the_protocol(api: HttpAlgorithmApi) -> None:
    assert isinstance(api, AlgorithmApi)


def test_create_task_request(server: tuple[FakeProxy, str], api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("POST", "/api/task", lambda r: (201, {"id": 5, "name": r.body["name"]}))
    task = api.create_task(name="partials", description="d", organizations=[3, 2],
                           input_={"method": "m", "args": [float("nan")], "kwargs": {}},
                           databases=[{"label": "default", "query": None}])
    assert task == {"id": 5, "name": "partials"}
    [request] = recorder.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    body = request.body
    inputs = [o.pop("input") for o in body["organizations"]]
    assert body == {"name": "partials", "description": "d", "collaboration_id": 1,
                    "image": "avg:1", "organizations": [{"id": 3}, {"id": 2}],
                    "databases": [{"label": "default", "query": None}]}
    assert inputs[0] == inputs[1]
    decoded = serialization.loads(base64.b64decode(inputs[0]))
    assert decoded["method"] == "m" and decoded["args"][0] != decoded["args"][0]  # NaN kept


def test_create_task_without_databases_omits_them(server: tuple[FakeProxy, str]) -> None:
    recorder, url = server
    recorder.on("POST", "/api/task", {"id": 1})
    api = HttpAlgorithmApi(Transport(url), RunMetadata())
    api.create_task(name="n", description="", organizations=[2], input_={"method": "m"},
                    databases=None)
    assert set(recorder.requests[0].body) == {"name", "description", "organizations"}


def test_wait_long_polls_until_finished(server: tuple[FakeProxy, str],
                                        api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    answers = iter([{"id": 7, "status": "active"}, {"id": 7, "status": "pending"},
                    {"id": 7, "status": "completed"}])

    def wait(request: Request) -> tuple[int, Any]:
        time.sleep(0.05)  # the server holds the request
        return 200, next(answers)

    recorder.on("GET", "/api/task/7/wait", wait)
    assert api.wait_for_task(7, timeout=None)["status"] == "completed"
    assert [r.params for r in recorder.requests] == [{"timeout": "60"}] * 3


def test_wait_respects_the_overall_timeout(server: tuple[FakeProxy, str],
                                           api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/task/7/wait", lambda r: (200, {"id": 7, "status": "active"}))
    started = time.monotonic()
    task = api.wait_for_task(7, timeout=1.5)
    assert task["status"] == "active"
    assert time.monotonic() - started < 5
    assert recorder.requests[0].params == {"timeout": "2"}
    assert len(recorder.requests) <= 5  # the answered-at-once guard keeps it from spinning


def test_a_finished_task_needs_no_listing_of_its_runs(server: tuple[FakeProxy, str],
                                                      api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/task/7/wait", {"id": 7, "status": "failed"})
    assert api.wait_for_task(7, timeout=10) == {"id": 7, "status": "failed"}
    assert [r.path for r in recorder.requests] == ["/api/task/7/wait"]


def test_get_runs_decodes_results_across_pages(server: tuple[FakeProxy, str],
                                               api: HttpAlgorithmApi) -> None:
    recorder, _ = server

    def runs(request: Request) -> tuple[int, Any]:
        if request.params["page"] == "1":
            return 200, page([{"id": 1, "organization_id": 2, "status": "completed",
                               "result": encode_payload({"sum": 3}), "log": "ok"}],
                             has_next=True)
        return 200, page([{"id": 2, "organization_id": 3, "status": "failed",
                           "result": None, "log": "Traceback"}])

    recorder.on("GET", "/api/run", runs)
    got = api.get_runs(9)
    assert [(r["organization_id"], r["status"], r["result"], r["log"]) for r in got] == [
        (2, "completed", {"sum": 3}, "ok"), (3, "failed", None, "Traceback")]
    assert [r.params["task_id"] for r in recorder.requests] == ["9", "9"]


def test_get_run_decodes_one_result(server: tuple[FakeProxy, str],
                                    api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/run/4", {"id": 4, "organization_id": 3, "status": "completed",
                                      "result": encode_payload({"sum": 3}), "log": ""})
    assert api.get_run(4)["result"] == {"sum": 3}


def test_studies_of_the_collaboration(server: tuple[FakeProxy, str],
                                      api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/study", page([{"id": 7, "name": "subset"}]))
    recorder.on("GET", "/api/study/7", {"id": 7, "name": "subset"})
    assert api.get_studies() == [{"id": 7, "name": "subset"}]
    assert recorder.requests[0].params["collaboration_id"] == "1"
    assert api.get_study(7)["name"] == "subset"


def test_corrupt_result_is_a_serialization_error(server: tuple[FakeProxy, str],
                                                 api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/run", page([{"id": 4, "organization_id": 3, "status":
                                          "completed", "result": "%%%", "log": ""}]))
    with pytest.raises(SerializationError, match=r"result of run 4 \(organization 3\)"):
        api.get_runs(1)


def test_organizations_and_collaboration(server: tuple[FakeProxy, str],
                                         api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/organization", page([{"id": 2}, {"id": 3}]))
    recorder.on("GET", "/api/organization/3", {"id": 3, "name": "B"})
    recorder.on("GET", "/api/collaboration/1", {"id": 1, "organization_ids": [2, 3]})
    assert [o["id"] for o in api.get_organizations()] == [2, 3]
    assert recorder.requests[0].params["collaboration_id"] == "1"
    assert api.get_organization(3)["name"] == "B"
    assert api.get_collaboration()["organization_ids"] == [2, 3]


def test_server_errors_keep_their_class(server: tuple[FakeProxy, str],
                                        api: HttpAlgorithmApi) -> None:
    with pytest.raises(NotFoundError, match="no /api/organization/99"):
        api.get_organization(99)


def test_collaboration_unknown_without_claims(server: tuple[FakeProxy, str]) -> None:
    api = HttpAlgorithmApi(Transport(server[1]), RunMetadata())
    with pytest.raises(AlgorithmError, match="names no collaboration"):
        api.get_collaboration()


def test_payload_round_trip() -> None:
    assert decode_payload(encode_payload({"a": [1, 2.5, None]})) == {"a": [1, 2.5, None]}
    assert decode_payload(None) is None and decode_payload("") is None


def test_no_runs_means_the_task_is_not_visible(server: tuple[FakeProxy, str],
                                               api: HttpAlgorithmApi) -> None:
    # Every task has a run; the server lists none for another job's task or a missing one.
    recorder, _ = server
    recorder.on("GET", "/api/run", page([]))
    with pytest.raises(NotFoundError, match="task 5 does not exist or belongs to another job"):
        api.get_runs(5)


def test_wait_comes_back_after_a_refusal(server: tuple[FakeProxy, str],
                                         api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    answers = iter([
        (429, {"code": "rate_limited", "message": "too many concurrent long-polls",
               "details": {"retry_after_seconds": 0.2}}),
        (200, {"id": 7, "status": "completed"}),
    ])
    recorder.on("GET", "/api/task/7/wait", lambda r: next(answers))
    started = time.monotonic()
    assert api.wait_for_task(7, timeout=None)["status"] == "completed"
    assert time.monotonic() - started >= 0.2
    assert len(recorder.requests) == 2


def test_wait_refused_at_its_deadline_raises_the_refusal(server: tuple[FakeProxy, str],
                                                         api: HttpAlgorithmApi) -> None:
    recorder, _ = server
    recorder.on("GET", "/api/task/7/wait", lambda r: (
        503, {"code": "server_busy", "message": "busy", "details": {"retry_after_seconds": 30}}))
    started = time.monotonic()
    with pytest.raises(errors.ServerBusyError):
        api.wait_for_task(7, timeout=0.5)
    assert time.monotonic() - started < 5 and len(recorder.requests) <= 3
