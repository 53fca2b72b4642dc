"""One suite, two backends: what the MockNetwork answers is what a real federation answers.

Each test runs against the MockNetwork and against :class:`v6lib.testing.LocalFederation`
(a real server on SQLite, real node daemons with the process runtime, the researcher's
HTTP client), with the same data and the same organization ids, and asserts the same
values: results, run and task statuses, reasons, the first line and the ``details`` of
failures, nested failures, kills, policy refusals, database labels and encryption.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from v6lib.errors import AlgorithmError
from v6lib.mock import MockNetwork
from v6lib.rules.failures import TRACEBACK_WITHHELD
from v6lib.testing import LocalFederation

pytestmark = pytest.mark.integration

ALGORITHMS = Path(__file__).parent / "algorithms"
if str(ALGORITHMS) not in sys.path:
    sys.path.insert(0, str(ALGORITHMS))

import v6_contract  # noqa: E402

FRAMES = [pd.DataFrame({"value": [1.0, 2.0, 3.0], "other": [10, 20, 30]}),
          pd.DataFrame({"value": [4.0, 5.0], "other": [40, 50]}),
          pd.DataFrame({"value": [6.0], "other": [60]})]
SECOND = [pd.DataFrame({"value": [100.0]}), pd.DataFrame({"value": [200.0, 1.0]}),
          pd.DataFrame({"value": [300.0]})]
DATASETS = [{"default": first, "second": second}
            for first, second in zip(FRAMES, SECOND, strict=True)]
Backend = MockNetwork | LocalFederation


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    with LocalFederation(v6_contract, DATASETS,
                         workdir=tmp_path_factory.mktemp("federation")) as federation:
        yield federation


@pytest.fixture(scope="module", params=["mock", "local"])
def backend(request: pytest.FixtureRequest, local: LocalFederation) -> Iterator[Backend]:
    if request.param == "local":
        yield local
        return
    with MockNetwork(v6_contract, DATASETS, organization_ids=local.organization_ids,
                     collaboration_id=local.collaboration_id) as network:
        yield network


def _orgs(backend: Backend) -> list[int]:
    return list(backend.organization_ids)


def _wait_for(backend: Backend, task_id: int, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = backend.runs(task_id)
        if all(r["status"] not in ("pending", "initializing", "active") for r in runs):
            return runs
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish: {backend.runs(task_id)}")


def _summary(runs: list[dict[str, Any]]) -> list[tuple[int, str, str | None, Any]]:
    return [(r["organization_id"], r["status"], r.get("reason"), r["result"]) for r in runs]


# --------------------------------------------------------------------------- results
def test_partial_results_come_in_organization_order(backend: Backend) -> None:
    assert backend.run("partial_sum") == [{"sum": 6.0, "count": 3}, {"sum": 9.0, "count": 2},
                                          {"sum": 6.0, "count": 1}]


def test_a_central_function_combines_its_subtasks(backend: Backend) -> None:
    assert backend.run("central_sum") == [
        {"sum": 21.0, "count": 6, "organizations": [3, 2, 1]}]


def test_another_database_label_reads_that_database(backend: Backend) -> None:
    assert [r["sum"] for r in backend.run("partial_sum", databases=["second"])] == \
        [100.0, 201.0, 300.0]


def test_nested_centrals_return_the_partials_results(backend: Backend) -> None:
    [[[inner]]] = backend.run("nested", kwargs={"depth": 2})
    assert inner == [{"sum": 6.0, "count": 3}, {"sum": 9.0, "count": 2},
                     {"sum": 6.0, "count": 1}]


def test_a_plain_package_function_is_callable(backend: Backend) -> None:
    assert backend.run("undecorated", args=[21], databases=[]) == [42, 42, 42]


# --------------------------------------------------------------------------- failures
def test_a_failure_at_one_organization_reads_the_same(backend: Backend) -> None:
    broken = _orgs(backend)[1]
    task = backend.create_task("fail_at", kwargs={"organization_id": broken})
    with pytest.raises(AlgorithmError) as caught:
        backend.wait_for_results(task["id"], timeout=60)
    error = caught.value
    assert str(error).splitlines()[0] == (
        f"task {task['id']}: organization {broken} failed: ValueError: cannot use the "
        f"data of organization {broken}")
    [failed] = error.details["failed"]
    assert (failed["organization_id"], failed["status"], failed["reason"]) == (
        broken, "failed", f"ValueError: cannot use the data of organization {broken}")
    runs = backend.runs(task["id"])
    assert [(r["status"], r["result"]) for r in runs] == [
        ("completed", 3), ("failed", None), ("completed", 1)]
    assert f"ValueError: cannot use the data of organization {broken}" in runs[1]["log"]
    # the traceback is withheld (share_algorithm_tracebacks is false by default) alike
    assert "Traceback (most recent call last)" not in runs[1]["log"]
    assert TRACEBACK_WITHHELD in runs[1]["log"]


def test_a_failure_in_a_subtask_names_both_levels(backend: Backend) -> None:
    broken = _orgs(backend)[2]
    researcher = _orgs(backend)[0]
    task = backend.create_task("central_fail", kwargs={"organization_id": broken})
    with pytest.raises(AlgorithmError) as caught:
        backend.wait_for_results(task["id"], timeout=60)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"task {task['id']}: organization {researcher} failed: "
                            f"AlgorithmError: task ")
    assert first.endswith(f": organization {broken} failed: ValueError: cannot use the data "
                          f"of organization {broken}")


def test_a_failure_two_levels_down_reads_from_the_outside_in(backend: Backend) -> None:
    broken = _orgs(backend)[1]
    with pytest.raises(AlgorithmError) as caught:
        backend.run("nested", kwargs={"depth": 1, "fail_at_organization": broken})
    first = str(caught.value).splitlines()[0]
    assert first.count("AlgorithmError: task ") == 2
    assert first.endswith(f"organization {broken} failed: ValueError: cannot use the data of "
                          f"organization {broken}")


def test_an_unknown_method_fails_at_the_nodes(backend: Backend) -> None:
    task = backend.create_task("no_such_method", organizations=_orgs(backend)[:1])
    with pytest.raises(AlgorithmError) as caught:
        backend.wait_for_results(task["id"], timeout=60)
    [failed] = caught.value.details["failed"]
    assert failed["reason"].startswith("AlgorithmError: the algorithm 'v6_contract' has no "
                                       "public function 'no_such_method'")


# --------------------------------------------------------------------------- refusals, kills
def test_a_missing_database_label_is_refused_by_the_node(backend: Backend) -> None:
    org = _orgs(backend)[0]
    task = backend.create_task("partial_sum", organizations=[org], databases=["nope"])
    runs = _wait_for(backend, task["id"])
    assert _summary(runs) == [
        (org, "not allowed",
         f"database label 'nope' is not configured on node 'organization {org}'", None)]
    with pytest.raises(AlgorithmError, match="not allowed"):
        backend.wait_for_results(task["id"], timeout=10)


def test_a_kill_ends_every_run_of_the_task(backend: Backend) -> None:
    task = backend.create_task("sleep", kwargs={"seconds": 30}, databases=[])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
            r["status"] != "active" for r in backend.runs(task["id"])):
        time.sleep(0.05)
    backend.kill_task(task["id"])
    runs = _wait_for(backend, task["id"], timeout=20)
    assert {(r["status"], r.get("reason")) for r in runs} == {
        ("killed by user", "killed by user")}


# --------------------------------------------------------------------------- encryption
@pytest.fixture(scope="module", params=["mock", "local"])
def sealed(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if request.param == "local":
        with LocalFederation(v6_contract, DATASETS, encrypted=True,
                             workdir=tmp_path_factory.mktemp("sealed")) as federation:
            yield federation
        return
    with MockNetwork(v6_contract, DATASETS, encrypted=True) as network:
        yield network


def test_an_encrypted_collaboration_gives_the_same_results(sealed: Backend) -> None:
    assert sealed.run("central_sum") == [{"sum": 21.0, "count": 6, "organizations": [3, 2, 1]}]
    assert [r["count"] for r in sealed.run("partial_sum")] == [3, 2, 1]
