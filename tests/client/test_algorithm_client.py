"""AlgorithmClient over a fake AlgorithmApi: ordering, failures, sub-clients, validation."""

from __future__ import annotations

from typing import Any

import pytest

from v6lib.client.algorithm_api import AlgorithmApi
from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.errors import AlgorithmError, ValidationError
from v6lib.schemas.task_input import TaskInput
from v6lib.wrappers.metadata import RunMetadata

META = RunMetadata(task_id=10, organization_id=2, collaboration_id=1, run_id=20, node_id=5,
                   study_id=7, image="avg:1", databases=({"label": "default"},))


class FakeAlgorithmApi:
    """An in-memory AlgorithmApi: runs finish with scripted outcomes per organization."""

    def __init__(self, outcomes: dict[int, tuple[str, Any, str]] | None = None,
                 run_order: list[int] | None = None) -> None:
        self.outcomes = outcomes or {}
        self.run_order = run_order
        self.created: list[dict[str, Any]] = []
        self.waited: list[tuple[int, float | None]] = []
        self.tasks: dict[int, list[int]] = {}

    def create_task(self, *, name: str, description: str, organizations: list[int],
                    input_: dict[str, Any], databases: list[dict[str, Any]] | None
                    ) -> dict[str, Any]:
        task_id = 100 + len(self.created)
        self.created.append({"name": name, "description": description,
                             "organizations": organizations, "input_": input_,
                             "databases": databases})
        self.tasks[task_id] = list(organizations)
        return {"id": task_id, "name": name}

    def wait_for_task(self, task_id: int, timeout: float | None) -> dict[str, Any]:
        self.waited.append((task_id, timeout))
        return {"id": task_id}

    def get_runs(self, task_id: int) -> list[dict[str, Any]]:
        orgs = self.run_order or self.tasks[task_id]
        runs = []
        for i, org in enumerate(orgs):
            status, result, log = self.outcomes.get(org, ("completed", {"org": org}, ""))
            runs.append({"id": i + 1, "task_id": task_id, "organization_id": org,
                         "status": status, "result": result, "log": log})
        return runs

    def get_run(self, run_id: int) -> dict[str, Any]:
        return {"id": run_id, "status": "completed", "result": {"run": run_id}}

    def get_organizations(self) -> list[dict[str, Any]]:
        return [{"id": 2, "name": "A"}, {"id": 3, "name": "B"}]

    def get_organization(self, organization_id: int) -> dict[str, Any]:
        return {"id": organization_id, "name": f"org {organization_id}"}

    def get_collaboration(self) -> dict[str, Any]:
        return {"id": 1, "name": "study", "organization_ids": [2, 3]}

    def get_studies(self) -> list[dict[str, Any]]:
        return [{"id": 7, "name": "subset"}]

    def get_study(self, study_id: int) -> dict[str, Any]:
        return {"id": study_id, "name": "subset"}


def make(api: FakeAlgorithmApi | None = None) -> tuple[AlgorithmClient, FakeAlgorithmApi]:
    api = api or FakeAlgorithmApi()
    return AlgorithmClient(api, META), api


def test_fake_satisfies_the_protocol() -> None:
    assert isinstance(FakeAlgorithmApi(), AlgorithmApi)


def test_properties_come_from_metadata() -> None:
    client, _ = make()
    assert (client.organization_id, client.collaboration_id, client.task_id) == (2, 1, 10)
    assert (client.node_id, client.study_id, client.image) == (5, 7, "avg:1")
    assert client.databases == [{"label": "default"}]
    client.databases[0]["label"] = "changed"  # a copy: the run's metadata stays as it was
    assert client.databases == [{"label": "default"}]


def test_vantage6_getters() -> None:
    client, api = make()

    assert client.task.get(100) == {"id": 100}
    assert api.waited == [(100, 0)]  # looks, does not wait
    assert client.run.get(4)["result"] == {"run": 4}
    assert client.result.get(4) == {"run": 4}
    assert client.study.list() == [{"id": 7, "name": "subset"}]
    assert client.study.get(7)["name"] == "subset"


def test_create_sends_a_normalized_input() -> None:
    client, api = make()
    task = client.task.create({"method": "partial", "kwargs": {"column": "age"}}, [3, 2],
                              name="avg", description="d", databases=[{"label": "default"}])
    assert task["id"] == 100
    assert api.created == [{"name": "avg", "description": "d", "organizations": [3, 2],
                            "input_": {"method": "partial", "args": [],
                                       "kwargs": {"column": "age"}},
                            "databases": [{"label": "default"}]}]


def test_create_accepts_a_task_input_model_and_defaults() -> None:
    client, api = make()
    client.task.create(TaskInput(method="partial", args=[1]), (2,))
    assert api.created[0]["name"] == "subtask" and api.created[0]["databases"] is None
    assert api.created[0]["input_"] == {"method": "partial", "args": [1], "kwargs": {}}


@pytest.mark.parametrize("bad_input", [{"args": [1]}, {"method": ""}, {"method": "x", "z": 1},
                                       "partial"])
def test_invalid_input_is_a_validation_error(bad_input: Any) -> None:
    client, api = make()
    with pytest.raises(ValidationError, match="subtask input is not a valid task input"):
        client.task.create(bad_input, [2])
    assert api.created == []


@pytest.mark.parametrize("orgs", [[], ["2"], [True], [2.0]])
def test_invalid_organizations(orgs: list[Any]) -> None:
    client, _ = make()
    with pytest.raises(ValidationError, match="non-empty list of organization ids"):
        client.task.create({"method": "x"}, orgs)


def test_results_come_in_the_order_organizations_were_given() -> None:
    client, api = make(FakeAlgorithmApi(run_order=[2, 5, 3]))
    task = client.task.create({"method": "x"}, [3, 5, 2])
    assert client.wait_for_results(task["id"], timeout=12) == [{"org": 3}, {"org": 5},
                                                               {"org": 2}]
    assert api.waited == [(100, 12)]


def test_unknown_task_keeps_the_server_order() -> None:
    api = FakeAlgorithmApi(run_order=[7, 4])
    api.tasks[55] = [7, 4]
    client, _ = make(api)
    assert client.wait_for_results(55) == [{"org": 7}, {"org": 4}]


def test_failed_runs_are_named_with_status_and_log_tail() -> None:
    long_log = "start\n" + "x" * 2000 + "\nKeyError: 'age'"
    api = FakeAlgorithmApi({3: ("failed", None, long_log), 4: ("crashed", None, "")})
    client, _ = make(api)
    task = client.task.create({"method": "x"}, [2, 3, 4])
    with pytest.raises(AlgorithmError) as info:
        client.wait_for_results(task["id"])
    message = str(info.value)
    assert message.splitlines()[0] == ("task 100: organization 3 failed: ended with status "
                                       "'failed' (and 1 other run(s) of 3)")
    assert "KeyError: 'age'" in message
    assert "organization 4 ended with status 'crashed'" in message
    assert "organization 2" not in message
    assert "start" not in message  # only the tail of a long log
    assert [f["organization_id"] for f in info.value.details["failed"]] == [3, 4]


def test_unfinished_runs_after_the_timeout() -> None:
    client, _ = make(FakeAlgorithmApi({3: ("active", None, "")}))
    task = client.task.create({"method": "x"}, [2, 3])
    with pytest.raises(AlgorithmError, match=r"did not finish within 5 s: organization 3 is "
                                             r"active"):
        client.wait_for_results(task["id"], timeout=5)


def test_run_and_result_from_task_tolerate_failures() -> None:
    client, _ = make(FakeAlgorithmApi({3: ("failed", None, "boom")}))
    task = client.task.create({"method": "x"}, [3, 2])
    runs = client.run.from_task(task["id"])
    assert [(r["organization_id"], r["status"]) for r in runs] == [(3, "failed"),
                                                                   (2, "completed")]
    assert runs[0]["log"] == "boom"
    assert client.result.from_task(task["id"]) == [{"org": 2}]


def test_organization_and_collaboration() -> None:
    client, _ = make()
    assert [o["id"] for o in client.organization.list()] == [2, 3]
    assert client.organization.get(3) == {"id": 3, "name": "org 3"}
    assert client.collaboration.get()["organization_ids"] == [2, 3]


def test_legacy_container_client_names() -> None:
    api = FakeAlgorithmApi({3: ("failed", None, "boom")})
    client, _ = make(api)
    task = client.create_new_task({"method": "x"}, organization_ids=[3, 2], name="old")
    assert api.created[0]["name"] == "old" and api.created[0]["organizations"] == [3, 2]
    polled = client.get_task(task["id"])
    assert polled["complete"] is True and polled["id"] == task["id"]
    assert api.waited == [(task["id"], 1.0)]
    assert client.get_results(task["id"]) == [{"org": 2}]
    assert [o["id"] for o in client.get_organizations_in_my_collaboration()] == [2, 3]


def test_legacy_get_task_reports_incomplete() -> None:
    client, _ = make(FakeAlgorithmApi({2: ("active", None, "")}))
    task = client.create_new_task({"method": "x"}, [2])
    assert client.get_task(task["id"])["complete"] is False
