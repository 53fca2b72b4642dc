"""Each mock run sees what a container sees: the contract's variables, files and folders."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from v6lib.mock import MockNetwork
from v6lib.mock.container import PROXY_PORT, MockContainers, mock_token
from v6lib.mock.datasets import normalize_datasets
from v6lib.mock.store import RunRecord, TaskRecord
from v6lib.rules.container_identity import container_identity
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.metadata import RunMetadata
from v6lib.wrappers.token import metadata_from_token


def test_a_partial_reads_the_documented_contract_from_os_environ(
    algorithms: ModuleType, site_files: list[Path], sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, site_files) as network:
        task = network.create_task("contract_view", organizations=[2])
        [view] = network.wait_for_results(task["id"])
        [run] = network.store.runs(task["id"])

    run_dir = Path(view["INPUT_FILE"]).parent
    job = task["job_id"]
    assert run_dir.parts[-4:] == ("organization_2", "jobs", str(job), str(run.id))
    assert view["OUTPUT_FILE"] == str(run_dir / "output" / "output")
    assert view["TOKEN_FILE"] == str(run_dir / "token")
    assert view["TEMPORARY_FOLDER"] == view["getenv"] == str(run_dir.parent / "tmp")
    assert view["note"] == view["INPUT_FILE"]  # written to and read from TEMPORARY_FOLDER
    assert (view["HOST"], view["PORT"], view["API_PATH"]) == (
        "http://127.0.0.1", str(PROXY_PORT), "/api")
    assert view["USER_REQUESTED_DATABASE_LABELS"] == "default"
    assert view["PKG_NAME"] == algorithms.__name__
    assert (view["uri"], view["type"], view["rows"]) == (str(site_files[1]), "csv",
                                                         len(sites[1]))
    assert view["input"] == {"method": "contract_view", "args": [], "kwargs": {}}
    ids = {"run_id": run.id, "task_id": task["id"], "job_id": job, "collaboration_id": 1,
           "organization_id": 2, "node_id": 2, "image": "mock", "study_id": None,
           "databases": [{"label": "default"}]}
    # vantage6's algorithm tools read the identity object in "sub", as in a node's token
    assert view["claims"] | {"iss": None} == {
        **ids, "kind": "container", "iss": None,
        "sub": {**ids, "client_type": "container", "store_id": None},
    }
    assert view["HOME"] == view["tempdir"] == str(run_dir / "home")
    assert view["thread_input_file"] == view["INPUT_FILE"]
    assert not run_dir.exists()  # removed with the run, as a node removes it
    assert not run_dir.parent.exists()  # and the job's folder with its last run here


def test_runs_of_organizations_at_the_same_time_each_see_their_own(
    algorithms: ModuleType, site_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(algorithms, "BARRIER", threading.Barrier(3))
    with MockNetwork(algorithms, site_files) as network:
        views = network.run("contract_view")

    assert [v["uri"] for v in views] == [str(path) for path in site_files]
    assert [v["claims"]["organization_id"] for v in views] == [1, 2, 3]
    for n, view in enumerate(views, start=1):
        assert f"/organization_{n}/" in view["INPUT_FILE"]
        assert f"/organization_{n}/" in view["TEMPORARY_FOLDER"] == view["getenv"]
        assert view["thread_input_file"] == view["INPUT_FILE"]
    assert [v["leftover"] for v in views] == [None, None, None]  # a run's writes stay its own
    assert "LEFTOVER" not in os.environ and "INPUT_FILE" not in os.environ


def test_sequential_runs_see_the_contract_in_the_calling_thread(
    algorithms: ModuleType, site_files: list[Path]
) -> None:
    with MockNetwork(algorithms, site_files, sequential=True) as network:
        views = network.run("contract_view")

    assert [v["claims"]["organization_id"] for v in views] == [1, 2, 3]
    assert [v["leftover"] for v in views] == [None, None, None]
    assert "INPUT_FILE" not in os.environ


def _records(job_id: int, run_id: int) -> tuple[TaskRecord, RunRecord]:
    task = TaskRecord(id=job_id, uid="uid", name="n", description="", collaboration_id=4,
                      init_org_id=1, parent_id=None, job_id=job_id, databases=[])
    return task, RunRecord(id=run_id, task_id=job_id, organization_id=1, input=b"")


def test_the_node_writes_input_and_token_and_the_run_its_output(tmp_path: Path) -> None:
    data = tmp_path / "site.csv"
    data.write_text("a\n1\n")
    containers = MockContainers(normalize_datasets([data], None), "pkg", sandbox=False)
    task, run = _records(job_id=3, run_id=7)
    specs = [DatabaseSpec("default", str(data), "csv", "ignored by csv")]

    with containers.start(task, run, b'{"method":"m"}', specs) as container:
        env = container.env
        container.write_output(b"[1]")
        files = {name: getattr(env, name).read_bytes()
                 for name in ("input_file", "token_file", "output_file")}
        modes = {stat.S_IMODE(getattr(env, name).stat().st_mode)
                 for name in ("input_file", "token_file", "output_file")}
        tmp_exists = env.temporary_folder is not None and env.temporary_folder.is_dir()

    assert files["input_file"] == b'{"method":"m"}'
    assert files["output_file"] == b"[1]"
    assert metadata_from_token(files["token_file"].decode()) == RunMetadata(
        task_id=3, organization_id=1, collaboration_id=4, run_id=7, job_id=3, node_id=1,
        image="mock")
    assert container.metadata.temporary_folder == env.temporary_folder
    assert container.databases == specs  # read back from the written environment
    assert modes == {0o600}
    assert tmp_exists
    assert not env.input_file.parent.exists()
    containers.close()


def test_runs_of_one_job_share_its_temporary_folder_while_one_runs() -> None:
    containers = MockContainers(normalize_datasets([pd.DataFrame({"a": [1]})], None), "pkg",
                                sandbox=False)
    first, second = _records(5, 1), _records(5, 2)
    with containers.start(*first, b"{}", []) as one:
        folder = one.env.temporary_folder
        assert folder is not None
        with containers.start(*second, b"{}", []) as two:
            assert two.env.temporary_folder == folder
            (folder / "kept").write_text("x")
        assert (folder / "kept").exists()  # the first run still runs
    assert not folder.exists()
    containers.close()


def test_mock_token_carries_the_claims_unsigned() -> None:
    token = mock_token({"run_id": 1, "organization_id": 2})
    header, payload, signature = token.split(".")

    assert signature == ""
    assert metadata_from_token(token).organization_id == 2
    assert json.loads(_b64(header)) == {"alg": "none", "typ": "JWT"}
    claims = json.loads(_b64(payload))
    assert claims.pop("sub") == container_identity({"run_id": 1, "organization_id": 2})
    assert claims == {"run_id": 1, "organization_id": 2, "kind": "container",
                      "iss": "v6lib-mock"}


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
