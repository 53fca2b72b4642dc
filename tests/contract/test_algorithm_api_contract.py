"""One contract, two implementations of the AlgorithmApi Protocol.

Every test runs against the MockNetwork's in-process ``MockAlgorithmApi`` and against
``HttpAlgorithmApi`` talking HTTP to a fake server on 127.0.0.1 (tests/contract/
fake_server.py, answering per docs/reference/http-api.md). Both stand where a central
function's api stands: inside run 1 of job 1, creating subtasks of task 1. A central
function written against one therefore behaves the same on the other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from v6lib.client.algorithm_api import AlgorithmApi, HttpAlgorithmApi
from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.client.transport import Transport
from v6lib.errors import AlgorithmError, NotFoundError, ValidationError
from v6lib.mock import MockAlgorithmApi, MockNetwork
from v6lib.schemas.run_status import RunStatus
from v6lib.wrappers import RunMetadata

from . import contract_algorithm
from .fake_server import (
    COLLABORATION_ID,
    FOREIGN_TASK_ID,
    IMAGE,
    JOB_ID,
    ORGANIZATION_IDS,
    PARENT_TASK_ID,
    TOKEN,
    FakeServer,
)

METADATA = RunMetadata(task_id=PARENT_TASK_ID, organization_id=1,
                       collaboration_id=COLLABORATION_ID, job_id=JOB_ID, image=IMAGE)
STATUSES = {status.value for status in RunStatus}


@dataclass
class World:
    kind: str
    api: AlgorithmApi


def _mock_world() -> Iterator[World]:
    frames = [pd.DataFrame({"x": [float(org)]}) for org in ORGANIZATION_IDS]
    with MockNetwork(contract_algorithm, frames, collaboration_id=COLLABORATION_ID,
                     organization_ids=list(ORGANIZATION_IDS)) as network:
        parent = network.create_task("echo", organizations=[1])  # task 1, job 1
        foreign = network.create_task("echo", organizations=[2])  # task 2, job 2
        network.wait_for_results(foreign["id"])
        assert (parent["id"], foreign["id"]) == (PARENT_TASK_ID, FOREIGN_TASK_ID)
        api = MockAlgorithmApi(network.server, network.submit, organization_id=1,
                               parent=network.store.task(parent["id"]))
        yield World("mock", api)


def _http_world() -> Iterator[World]:
    server = FakeServer().start()
    transport = Transport(server.url, timeout=10)
    transport.token = TOKEN
    try:
        yield World("http", HttpAlgorithmApi(transport, METADATA))
    finally:
        server.stop()


@pytest.fixture(params=["mock", "http"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    yield from (_mock_world() if request.param == "mock" else _http_world())


def _create(world: World, method: str, organizations: list[int], *args: Any,
            **kwargs: Any) -> dict[str, Any]:
    return world.api.create_task(
        name=f"{method} subtask", description=f"calls {method}", organizations=organizations,
        input_={"method": method, "args": list(args), "kwargs": kwargs}, databases=None,
    )


def _by_organization(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(runs, key=lambda run: run["organization_id"])


def test_both_satisfy_the_protocol(world: World) -> None:
    assert isinstance(world.api, AlgorithmApi)


def test_create_task_returns_the_new_subtask(world: World) -> None:
    task = _create(world, "echo", [3, 2])

    assert isinstance(task["id"], int)
    assert task["id"] not in (PARENT_TASK_ID, FOREIGN_TASK_ID)
    assert (task["name"], task["description"]) == ("echo subtask", "calls echo")
    assert (task["parent_id"], task["job_id"]) == (PARENT_TASK_ID, JOB_ID)
    assert (task["collaboration_id"], task["init_org_id"]) == (COLLABORATION_ID, 1)
    assert task["status"] in STATUSES
    world.api.wait_for_task(task["id"], 30)


def test_wait_for_task_returns_when_done_and_runs_carry_decoded_results(world: World) -> None:
    args = [1.5, "text", None, [1, {"nested": True}]]
    task = _create(world, "echo", [2, 3], *args, limit=float("inf"))

    done = world.api.wait_for_task(task["id"], 30)
    runs = _by_organization(world.api.get_runs(task["id"]))

    assert (done["id"], done["status"]) == (task["id"], RunStatus.COMPLETED.value)
    assert [(r["organization_id"], r["status"]) for r in runs] == [(2, "completed"),
                                                                   (3, "completed")]
    assert [r["result"] for r in runs] == [
        {"organization_id": org, "args": args, "kwargs": {"limit": float("inf")}}
        for org in (2, 3)
    ]


def test_wait_for_task_gives_up_at_its_timeout(world: World) -> None:
    task = _create(world, "sleep", [1], seconds=2.5)

    started = time.monotonic()
    seen = world.api.wait_for_task(task["id"], 0.2)
    waited = time.monotonic() - started

    assert waited < 2.0  # a long-poll rounds the hold up to whole seconds
    assert not RunStatus(seen["status"]).is_terminal
    assert world.api.wait_for_task(task["id"], 30)["status"] == RunStatus.COMPLETED.value


def test_one_run_reads_as_in_the_list_and_a_collaboration_without_studies(
    world: World,
) -> None:
    task = _create(world, "echo", [2, 3], "x")
    world.api.wait_for_task(task["id"], 30)
    runs = world.api.get_runs(task["id"])

    assert [world.api.get_run(run["id"])["result"] for run in runs] == [
        run["result"] for run in runs]
    missing = max(run["id"] for run in runs) + 1000
    with pytest.raises(NotFoundError):
        world.api.get_run(missing)
    assert world.api.get_studies() == []
    with pytest.raises(NotFoundError):
        world.api.get_study(1)


def test_a_failed_run_is_reported_with_its_log(world: World) -> None:
    task = _create(world, "fail", [2])

    done = world.api.wait_for_task(task["id"], 30)
    [run] = world.api.get_runs(task["id"])

    assert done["status"] == RunStatus.FAILED.value
    assert (run["organization_id"], run["status"], run["result"]) == (2, "failed", None)
    assert "RuntimeError: boom" in run["log"]


def test_organizations_and_collaboration(world: World) -> None:
    organizations = world.api.get_organizations()

    assert sorted(org["id"] for org in organizations) == list(ORGANIZATION_IDS)
    assert all({"id", "name", "public_key"} <= set(org) for org in organizations)
    assert world.api.get_organization(2)["id"] == 2
    collaboration = world.api.get_collaboration()
    assert collaboration["id"] == COLLABORATION_ID
    assert sorted(collaboration["organization_ids"]) == list(ORGANIZATION_IDS)


def test_an_unknown_organization_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        world.api.get_organization(99)


def test_organizations_outside_the_collaboration_are_refused(world: World) -> None:
    with pytest.raises(ValidationError):
        _create(world, "echo", [1, 99])


@pytest.mark.parametrize("task_id", [FOREIGN_TASK_ID, 999], ids=["other-job", "missing"])
def test_tasks_a_run_cannot_see_are_not_found(world: World, task_id: int) -> None:
    with pytest.raises(NotFoundError):
        world.api.wait_for_task(task_id, 1)
    with pytest.raises(NotFoundError):
        world.api.get_runs(task_id)


def test_the_algorithm_client_on_top_behaves_the_same(world: World) -> None:
    client = AlgorithmClient(world.api, METADATA)

    ok = client.task.create({"method": "echo", "args": [7]}, organizations=[3, 1])
    results = client.wait_for_results(ok["id"], timeout=30)
    broken = client.task.create({"method": "fail"}, organizations=[1, 2])

    assert [r["organization_id"] for r in results] == [3, 1]
    assert [r["args"] for r in results] == [[7], [7]]
    with pytest.raises(AlgorithmError, match=r"2 of 2 run\(s\) failed, 0 completed"):
        client.wait_for_results(broken["id"], timeout=30)
