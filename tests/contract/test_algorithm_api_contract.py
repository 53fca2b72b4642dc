"""One contract, two implementations of the AlgorithmApi Protocol.

Every test runs against the MockNetwork's in-process ``MockAlgorithmApi`` and against
``HttpAlgorithmApi`` talking HTTP to a real server (:class:`v6lib.testing.LocalFederation`,
whose real nodes run the subtasks with the process runtime). Both stand where a central
function's api stands: inside the parent task's run, creating subtasks of it, with a
task of another job beside it. On the real server the api holds the container token the
node handed the parent's run. A central function written against one therefore behaves
the same on the other.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from v6lib.client.algorithm_api import AlgorithmApi, HttpAlgorithmApi
from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.client.transport import Transport
from v6lib.errors import AlgorithmError, NotFoundError, ValidationError
from v6lib.mock import MockAlgorithmApi, MockNetwork
from v6lib.mock.store import MOCK_IMAGE
from v6lib.schemas.run_status import RunStatus
from v6lib.testing import LocalFederation
from v6lib.wrappers import RunMetadata
from v6lib.wrappers.contract import run_paths

pytestmark = pytest.mark.integration

ALGORITHMS = Path(__file__).parent / "algorithms"
if str(ALGORITHMS) not in sys.path:
    sys.path.insert(0, str(ALGORITHMS))

import v6_api_contract  # noqa: E402

STATUSES = {status.value for status in RunStatus}
#: how long the parent's run stays active on the real server (the tests need less)
HOLD_SECONDS = 600


@dataclass
class World:
    """Where the api stands: the parent task's run at the first organization."""

    kind: str
    api: AlgorithmApi
    organization_ids: list[int]
    collaboration_id: int
    parent_task_id: int  # also the job's id
    foreign_task_id: int  # a task of another job
    image: str  # what the parent runs, and so its subtasks

    @property
    def metadata(self) -> RunMetadata:
        return RunMetadata(task_id=self.parent_task_id, organization_id=self.organization_ids[0],
                           collaboration_id=self.collaboration_id, job_id=self.parent_task_id,
                           image=self.image)


def _frames(count: int) -> list[pd.DataFrame]:
    return [pd.DataFrame({"x": [float(n)]}) for n in range(count)]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    with LocalFederation(v6_api_contract, _frames(3),
                         workdir=tmp_path_factory.mktemp("api-contract")) as federation:
        yield federation


def _container_token(federation: LocalFederation, task: dict[str, Any]) -> str:
    """The token the first organization's node handed the task's run (its token file)."""
    org = federation.organization_ids[0]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        [run] = federation.client.run.from_task(task["id"])
        token = run_paths(federation.workdir / f"node-{org}", task["id"], run["id"]).token_file
        if run["status"] == RunStatus.ACTIVE.value and token.exists():
            return token.read_text().strip()
        time.sleep(0.1)
    raise AssertionError(f"the run of task {task['id']} never became active")


@pytest.fixture(scope="module")
def local_world(local: LocalFederation) -> Iterator[World]:
    orgs = local.organization_ids
    parent = local.create_task("sleep", kwargs={"seconds": HOLD_SECONDS}, organizations=orgs[:1])
    foreign = local.create_task("echo", organizations=orgs[1:2])
    local.wait_for_results(foreign["id"], timeout=60)
    transport = Transport(f"http://127.0.0.1:{local.port}/api", timeout=10)
    transport.token = _container_token(local, parent)
    world = World("http", HttpAlgorithmApi(transport, RunMetadata()), orgs,
                  local.collaboration_id, parent["id"], foreign["id"], local.image)
    world.api = HttpAlgorithmApi(transport, world.metadata)  # the ids are known now
    yield world
    local.kill_task(parent["id"])


def _mock_world(local: LocalFederation) -> Iterator[World]:
    orgs = local.organization_ids
    with MockNetwork(v6_api_contract, _frames(3), collaboration_id=local.collaboration_id,
                     organization_ids=orgs) as network:
        parent = network.create_task("echo", organizations=orgs[:1])
        foreign = network.create_task("echo", organizations=orgs[1:2])
        network.wait_for_results(foreign["id"])
        api = MockAlgorithmApi(network.server, network.submit, organization_id=orgs[0],
                               parent=network.store.task(parent["id"]))
        yield World("mock", api, orgs, local.collaboration_id, parent["id"], foreign["id"],
                    MOCK_IMAGE)


@pytest.fixture(params=["mock", "http"])
def world(request: pytest.FixtureRequest, local: LocalFederation) -> Iterator[World]:
    if request.param == "http":
        yield request.getfixturevalue("local_world")
        return
    yield from _mock_world(local)


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
    first, second, third = world.organization_ids
    task = _create(world, "echo", [third, second])

    assert isinstance(task["id"], int)
    assert task["id"] not in (world.parent_task_id, world.foreign_task_id)
    assert (task["name"], task["description"]) == ("echo subtask", "calls echo")
    assert (task["parent_id"], task["job_id"]) == (world.parent_task_id, world.parent_task_id)
    assert (task["collaboration_id"], task["init_org_id"]) == (world.collaboration_id, first)
    assert task["status"] in STATUSES
    world.api.wait_for_task(task["id"], 30)


def test_wait_for_task_returns_when_done_and_runs_carry_decoded_results(world: World) -> None:
    args = [1.5, "text", None, [1, {"nested": True}]]
    _, second, third = world.organization_ids
    task = _create(world, "echo", [second, third], *args, limit=float("inf"))

    done = world.api.wait_for_task(task["id"], 30)
    runs = _by_organization(world.api.get_runs(task["id"]))

    assert (done["id"], done["status"]) == (task["id"], RunStatus.COMPLETED.value)
    assert [(r["organization_id"], r["status"]) for r in runs] == [(second, "completed"),
                                                                   (third, "completed")]
    assert [r["result"] for r in runs] == [
        {"organization_id": org, "args": args, "kwargs": {"limit": float("inf")}}
        for org in (second, third)
    ]


def test_wait_for_task_gives_up_at_its_timeout(world: World) -> None:
    task = _create(world, "sleep", world.organization_ids[:1], seconds=2.5)

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
    second = world.organization_ids[1]
    task = _create(world, "fail", [second])

    done = world.api.wait_for_task(task["id"], 30)
    [run] = world.api.get_runs(task["id"])

    assert done["status"] == RunStatus.FAILED.value
    assert (run["organization_id"], run["status"], run["result"]) == (second, "failed", None)
    assert "RuntimeError: boom" in run["log"]


def test_organizations_and_collaboration(world: World) -> None:
    organizations = world.api.get_organizations()
    second = world.organization_ids[1]

    assert sorted(org["id"] for org in organizations) == sorted(world.organization_ids)
    assert all({"id", "name", "public_key"} <= set(org) for org in organizations)
    assert world.api.get_organization(second)["id"] == second
    collaboration = world.api.get_collaboration()
    assert collaboration["id"] == world.collaboration_id
    assert sorted(collaboration["organization_ids"]) == sorted(world.organization_ids)


def test_an_unknown_organization_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        world.api.get_organization(max(world.organization_ids) + 99)


def test_organizations_outside_the_collaboration_are_refused(world: World) -> None:
    with pytest.raises(ValidationError):
        _create(world, "echo", [world.organization_ids[0], max(world.organization_ids) + 99])


@pytest.mark.parametrize("which", ["other-job", "missing"])
def test_tasks_a_run_cannot_see_are_not_found(world: World, which: str) -> None:
    task_id = world.foreign_task_id if which == "other-job" else 99_999
    with pytest.raises(NotFoundError):
        world.api.wait_for_task(task_id, 1)
    with pytest.raises(NotFoundError):
        world.api.get_runs(task_id)


def test_the_algorithm_client_on_top_behaves_the_same(world: World) -> None:
    client = AlgorithmClient(world.api, world.metadata)
    first, second, third = world.organization_ids

    ok = client.task.create({"method": "echo", "args": [7]}, organizations=[third, first])
    results = client.wait_for_results(ok["id"], timeout=30)
    broken = client.task.create({"method": "fail"}, organizations=[first, second])

    assert [r["organization_id"] for r in results] == [third, first]
    assert [r["args"] for r in results] == [[7], [7]]
    with pytest.raises(AlgorithmError, match=r"2 of 2 run\(s\) failed, 0 completed"):
        client.wait_for_results(broken["id"], timeout=30)
