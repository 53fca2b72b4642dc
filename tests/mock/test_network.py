"""MockNetwork end to end: results, isolation, nesting, concurrency, failures."""

from __future__ import annotations

import importlib.util
import itertools
import time
import warnings
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from v6lib import serialization
from v6lib.errors import (
    AlgorithmError,
    ConfigurationError,
    NotFoundError,
    SerializationError,
    ValidationError,
)
from v6lib.image.lock import ImageMismatchWarning, local_versions, write_lock
from v6lib.mock import MockNetwork
from v6lib.schemas.run_status import RunStatus


def test_partial_results_come_back_in_organization_order(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        results = network.run("column_sum", kwargs={"column": "value"})

    assert results == [float(df["value"].sum()) for df in sites]


def test_partial_only_sees_its_own_organization(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites, organization_ids=[7, 8, 9]) as network:
        results = network.run("describe", organizations=[9, 7])

    assert [r["organization_id"] for r in results] == [9, 7]
    assert results[0]["ids"] == sorted(sites[2]["id"].tolist())
    assert results[1]["ids"] == sorted(sites[0]["id"].tolist())


def test_partial_cannot_load_another_organizations_database(
    algorithms: ModuleType, tmp_path: object, sites: list[pd.DataFrame]
) -> None:
    from pathlib import Path

    files = []
    for n, df in enumerate(sites, start=1):
        path = Path(str(tmp_path)) / f"org{n}.csv"
        df.to_csv(path, index=False)
        files.append(path)
    with MockNetwork(algorithms, files) as network:
        task = network.create_task(
            "peek", kwargs={"uri": str(files[2]), "kind": "csv"}, organizations=[2]
        )
        with pytest.raises(AlgorithmError) as caught:
            network.wait_for_results(task["id"])

    assert "organization 2" in str(caught.value)
    assert "is not configured at organization 2" in str(caught.value)


def test_database_label_missing_at_one_organization_is_refused_before_running(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    datasets = [sites[0], sites[1], {"default": sites[2], "extra": sites[0]}]
    with MockNetwork(algorithms, datasets) as network:
        task = network.create_task("column_sum", kwargs={"column": "value"}, databases=["extra"])
        with pytest.raises(AlgorithmError, match="database label 'extra' is not configured"):
            network.wait_for_results(task["id"])
        statuses = {r["organization_id"]: r["status"] for r in network.runs(task["id"])}

    assert statuses == {
        1: RunStatus.NOT_ALLOWED.value,
        2: RunStatus.NOT_ALLOWED.value,
        3: RunStatus.COMPLETED.value,
    }


def test_central_fans_out_through_the_algorithm_client(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        [results] = network.run(
            "fan_out", kwargs={"method": "column_sum", "kwargs": {"column": "value"}}
        )
        task_ids = [t.id for t in (network.store.task(i) for i in (1, 2))]

    assert results == [float(df["value"].sum()) for df in sites]
    assert task_ids == [1, 2]


def test_nested_subtasks_share_the_job_id(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        [outcome] = network.run("nested", kwargs={"via": 2})
        tasks = [network.store.task(i) for i in (1, 2, 3)]

    assert [t.parent_id for t in tasks] == [None, 1, 2]
    assert {t.job_id for t in tasks} == {1}
    assert {t.init_org_id for t in tasks} == {1, 2}
    assert outcome["job_id"] == 1
    assert [d["organization_id"] for d in outcome["inner"]] == [1, 2, 3]
    assert {d["job_id"] for d in outcome["inner"]} == {1}
    assert {d["task_id"] for d in outcome["inner"]} == {3}


def test_runs_of_one_job_at_one_organization_share_a_temporary_folder(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        first = network.run("describe")
        again = network.run("describe")

    assert len({r["temporary_folder"] for r in first}) == 3
    assert first[0]["temporary_folder"] != again[0]["temporary_folder"]  # another job


def test_a_run_cannot_read_tasks_of_another_job(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        network.run("column_sum", kwargs={"column": "value"})
        with pytest.raises(AlgorithmError) as caught:
            network.run("read_foreign_task", kwargs={"task_id": 1})

    assert NotFoundError.__name__ in str(caught.value)
    assert "a run may only read the tasks of its own job" in str(caught.value)


def test_partials_run_concurrently(algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites) as network:
        results = network.run("timed", kwargs={"seconds": 0.3})

    latest_start = max(r["start"] for r in results)
    earliest_end = min(r["end"] for r in results)
    assert latest_start < earliest_end  # all three were sleeping at the same moment
    assert len({r["thread"] for r in results}) == 3


def test_sequential_runs_one_after_another_in_the_calling_thread(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    import threading

    with MockNetwork(algorithms, sites, sequential=True) as network:
        results = network.run("timed", kwargs={"seconds": 0.05})

    for before, after in itertools.pairwise(results):
        assert after["start"] >= before["end"]
    assert {r["thread"] for r in results} == {threading.get_ident()}


def test_sequential_network_still_runs_nested_centrals(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites, sequential=True) as network:
        [outcome] = network.run("nested", kwargs={"via": 3})

    assert [d["organization_id"] for d in outcome["inner"]] == [1, 2, 3]


def test_failure_names_the_organization_and_carries_the_traceback(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites, share_algorithm_tracebacks=True) as network:
        with pytest.raises(AlgorithmError) as caught:
            network.run("fail_at", kwargs={"organization_id": 2})
        runs = network.runs(1)

    message = str(caught.value)
    assert [f["organization_id"] for f in caught.value.details["failed"]] == [2]
    assert message.splitlines()[0] == ("task 1: organization 2 failed: ValueError: cannot "
                                       "handle the data of organization 2")
    assert "Traceback (most recent call last)" in message
    assert "in fail_at" in message
    assert "ValueError: cannot handle the data of organization 2" in message
    assert [r["status"] for r in runs] == ["completed", "failed", "completed"]
    assert [r["result"] for r in runs] == [3, None, 5]


def test_failure_in_a_partial_surfaces_through_the_central(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network, pytest.raises(AlgorithmError) as caught:
        network.run("fan_out", kwargs={"method": "fail_at", "kwargs": {"organization_id": 3}})

    message = str(caught.value)
    assert message.splitlines()[0] == (
        "task 1: organization 1 failed: AlgorithmError: task 2: organization 3 failed: "
        "ValueError: cannot handle the data of organization 3")
    assert "ValueError: cannot handle the data of organization 3" in message


def test_injected_failure_hits_partials_only(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    failures = {1: RuntimeError("disk full"), 3: OSError}
    with MockNetwork(algorithms, sites, failures=failures) as network:
        with pytest.raises(AlgorithmError) as caught:
            network.run("fan_out", kwargs={"method": "describe"})
        partial_runs = network.runs(2)

    assert "RuntimeError: disk full" in str(caught.value)
    assert "OSError: failure injected at organization 3" in str(caught.value)
    assert [r["status"] for r in partial_runs] == ["failed", "completed", "failed"]


def test_unserializable_result_fails_like_production(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    value = {"rows": 3, "model": [1, 2, __import__("threading").Lock()]}
    with pytest.raises(SerializationError) as direct:
        serialization.dumps(value, root="result")

    with MockNetwork(algorithms, sites) as network:
        with pytest.raises(AlgorithmError) as caught:
            network.run("unserializable", organizations=[1])
        [run] = network.runs(1)

    assert "result['model'][2]" in direct.value.message
    assert run["status"] == RunStatus.FAILED.value
    assert (
        f"SerializationError: the result of {algorithms.__name__}.unserializable cannot "
        f"be written to OUTPUT_FILE: {direct.value.message}" in run["log"]
    )
    assert "(exit code 65)" in run["log"]
    assert "organization 1" in str(caught.value)


def test_unserializable_argument_is_refused_when_the_task_is_created(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network, pytest.raises(SerializationError):
        network.run("column_sum", kwargs={"column": object()})


def test_several_databases_per_organization_in_requested_order(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    extra = pd.DataFrame({"code": ["x", "y"]})
    datasets = [{"clinical": df, "codes": extra} for df in sites]
    with MockNetwork(algorithms, datasets) as network:
        default_order = network.run("two_databases")
        reversed_order = network.run("two_databases", databases=["codes", "clinical"])

    assert default_order[1] == {"first": ["id", "value"], "second": ["code"], "rows": [4, 2]}
    assert reversed_order[1] == {"first": ["code"], "second": ["id", "value"], "rows": [2, 4]}


def test_list_of_databases_gets_default_labels(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, [[df, df.head(1)] for df in sites]) as network:
        assert network.organizations[1].labels == ["default", "db1"]
        results = network.run("two_databases", organizations=[2])

    assert results == [{"first": ["id", "value"], "second": ["id", "value"], "rows": [4, 1]}]


def test_frames_are_loaded_once_and_shared(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        first = network.run("describe")
        second = network.run("describe")

    assert [r["frame_id"] for r in first] == [r["frame_id"] for r in second]


def test_wait_gives_up_after_the_timeout(algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites) as network:
        started = time.monotonic()
        with pytest.raises(AlgorithmError, match=r"did not finish within 0\.1 s"):
            network.run("timed", kwargs={"seconds": 1.0}, timeout=0.1)

        assert time.monotonic() - started < 0.9


def test_researcher_client_creates_tasks_like_a_central(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        client = network.algorithm_client()
        task = client.task.create(
            {"method": "column_sum", "kwargs": {"column": "value"}}, organizations=[3, 1]
        )
        results = client.wait_for_results(task["id"])

    assert results == [float(sites[2]["value"].sum()), float(sites[0]["value"].sum())]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"organization_ids": [1, 1, 2]}, "3 distinct ids"),
        ({"failures": {4: RuntimeError()}}, "failures key 4"),
        ({"failures": {1: "boom"}}, "must be an exception"),
        ({"max_workers": 0}, "max_workers must be at least 1"),
        ({"researcher_organization_id": 9}, "researcher_organization_id 9"),
    ],
)
def test_bad_options_are_refused(
    algorithms: ModuleType, sites: list[pd.DataFrame], options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        MockNetwork(algorithms, sites, **options)  # type: ignore[arg-type]


def test_unknown_method_lists_the_available_ones(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with (
        MockNetwork(algorithms, sites) as network,
        pytest.raises(AlgorithmError, match=r"no public function 'mean'.*column_sum"),
    ):
        network.run("mean")


def test_task_for_unknown_organization_is_refused(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with (
        MockNetwork(algorithms, sites) as network,
        pytest.raises(ValidationError, match=r"\[4\] have no node in collaboration 1"),
    ):
        network.run("column_sum", kwargs={"column": "value"}, organizations=[4])


@pytest.mark.parametrize("sequential", [False, True])
def test_exit_in_an_algorithm_fails_the_run_not_the_process(
    algorithms: ModuleType, sites: list[pd.DataFrame], sequential: bool
) -> None:
    with MockNetwork(algorithms, sites, sequential=sequential) as network:
        with pytest.raises(AlgorithmError) as caught:
            network.run("calls_exit", organizations=[2])
        [run] = network.runs(1)

    assert run["status"] == RunStatus.FAILED.value
    assert "the algorithm called exit(3) instead of returning a result (exit code 3)" in run["log"]
    assert "organization 2" in str(caught.value)


def test_nesting_cannot_deadlock_with_a_single_worker(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites, max_workers=1) as network:
        [outcome] = network.run("nested", kwargs={"via": 2}, timeout=30)

    assert [d["organization_id"] for d in outcome["inner"]] == [1, 2, 3]


def test_module_can_be_given_by_name(algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms.__name__, sites) as network:
        task = network.create_task("column_sum", kwargs={"column": "value"}, name="sums")
        results = network.wait_for_results(task["id"])

    assert network.module is algorithms
    assert (task["name"], task["parent_id"], task["job_id"], task["init_org_id"]) == (
        "sums",
        None,
        task["id"],
        1,
    )
    assert results == [float(df["value"].sum()) for df in sites]


def _package_with_lock(tmp_path: Path, pandas_version: str) -> ModuleType:
    """A one-function algorithm package whose v6-image.lock records ``pandas_version``."""
    package = tmp_path / "locked_algorithm"
    package.mkdir()
    (package / "__init__.py").write_text("def echo(value):\n    return value\n")
    pins = [f"{name}=={version}" for name, version in local_versions().items()
            if name != "pandas"]
    write_lock(tmp_path / "v6-image.lock", [*pins, f"pandas=={pandas_version}"], source="test")
    spec = importlib.util.spec_from_file_location("locked_algorithm", package / "__init__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_image_lock_of_other_versions_is_reported_with_both(tmp_path: Path) -> None:
    module = _package_with_lock(tmp_path, "1.0.0")

    with pytest.warns(ImageMismatchWarning,
                      match=rf"pandas: image 1\.0\.0, local {pd.__version__}"), \
            MockNetwork(module, [pd.DataFrame({"a": [1]})]) as network:
        assert network.run("echo", kwargs={"value": 3}) == [3]


def test_an_image_lock_of_this_environment_is_silent(tmp_path: Path) -> None:
    module = _package_with_lock(tmp_path, pd.__version__)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with MockNetwork(module, [pd.DataFrame({"a": [1]})]) as network:
            assert network.run("echo", kwargs={"value": 3}) == [3]


def test_module_may_be_named_by_its_distribution_name(
    tmp_path, monkeypatch: pytest.MonkeyPatch, sites: list[pd.DataFrame]
) -> None:
    package = tmp_path / "hyphen_named_average"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from v6lib.wrappers import data\n\n\n"
        "@data(1)\ndef rows(df):\n    return len(df)\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with MockNetwork("hyphen-named-average", sites[:2]) as network:
        assert network.run("rows") == [len(sites[0]), len(sites[1])]


def test_by_default_a_failed_runs_traceback_is_withheld_as_a_node_withholds_it(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    from v6lib.rules.failures import TRACEBACK_WITHHELD

    with MockNetwork(algorithms, sites) as network:
        with pytest.raises(AlgorithmError) as caught:
            network.run("fail_at", kwargs={"organization_id": 2})
        log = network.runs(1)[1]["log"]
    assert "Traceback (most recent call last)" not in str(caught.value)
    assert "in fail_at" not in log and TRACEBACK_WITHHELD in log
    assert log.rstrip().endswith("ValueError: cannot handle the data of organization 2")
