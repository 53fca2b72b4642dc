"""The sandbox: a mock run may not do what an algorithm container cannot do."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from v6lib.errors import AlgorithmError, ConfigurationError, SandboxViolation
from v6lib.mock import MockNetwork
from v6lib.mock.datasets import normalize_datasets
from v6lib.mock.sandbox import Cage, DataOwners, sandbox_enabled

NO_NETWORK = ("an algorithm container has no network (subtasks and their results go "
              "through the algorithm client, which the mock serves in-process)")


def _failure(network: MockNetwork, method: str, organization: int = 2, **kwargs: object
             ) -> str:
    """The researcher's error message of ``method`` run at one organization."""
    with pytest.raises(AlgorithmError) as info:
        network.run(method, kwargs=kwargs, organizations=[organization])
    return str(info.value)


@pytest.fixture
def listening() -> Iterator[tuple[socket.socket, int]]:
    """A TCP server on loopback (a run must not reach it)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        yield server, server.getsockname()[1]


# ------------------------------------------------------------------ refused in a run


def test_reading_another_organizations_csv_fails_the_run(
    algorithms: ModuleType, site_files: list[Path]
) -> None:
    foreign = site_files[2]
    with MockNetwork(algorithms, site_files) as network:
        task = network.create_task("read_file", kwargs={"path": str(foreign)},
                                   organizations=[2])
        network.store.wait(task["id"], timeout=30)
        [run] = network.runs(task["id"])

    assert run["status"] == "failed"
    assert run["log"].splitlines()[0] == (
        "v6lib: the run failed and wrote no result. SandboxViolation: organization 2's run "
        f"may not open {foreign} for reading: it is organization 3's data (in production "
        "the file is not even visible) (exit code 77)"
    )


def test_a_central_and_its_researcher_see_the_partials_violation(
    algorithms: ModuleType, site_files: list[Path]
) -> None:
    foreign = site_files[0]
    with MockNetwork(algorithms, site_files) as network, \
            pytest.raises(AlgorithmError) as info:
        network.run("fan_out", kwargs={"method": "read_file", "kwargs": {"path": str(foreign)}})

    message = str(info.value)
    assert "organization 1" in message  # the central's run failed...
    for org in (2, 3):  # ...because its partials at 2 and 3 were refused
        assert (f"organization {org}'s run may not open {foreign} for reading: it is "
                "organization 1's data") in message


def test_writing_outside_the_runs_folders_is_refused(
    algorithms: ModuleType, site_files: list[Path], tmp_path: Path
) -> None:
    target = tmp_path / "escaped.txt"
    with MockNetwork(algorithms, site_files) as network:
        message = _failure(network, "write_file", path=str(target))
        own_data = _failure(network, "write_file", path=str(site_files[1]))
        foreign = _failure(network, "write_file", path=str(site_files[0]))

    assert re.search(
        rf"organization 2's run may not open {re.escape(str(target))} for writing: a run may "
        r"write only in its output folder \S+/organization_2/jobs/\d+/\d+/output, its HOME "
        r"\S+/organization_2/jobs/\d+/\d+/home \(also its temporary directory\) and "
        r"TEMPORARY_FOLDER \S+/organization_2/jobs/\d+/tmp \(in production the rest of the "
        r"file system is read-only or not there\)", message)
    assert "it is the organization's own data, which is read-only" in own_data
    assert "it is organization 1's data (in production the file is not even visible)" in foreign
    assert not target.exists()
    assert site_files[1].read_text().startswith("id,value")


@pytest.mark.parametrize("name", ["INPUT_FILE", "TOKEN_FILE"])
def test_input_and_token_files_are_read_only(algorithms: ModuleType, site_files: list[Path],
                                             name: str) -> None:
    with MockNetwork(algorithms, site_files) as network:
        message = _failure(network, "write_file", path=f"${name}")

    assert re.search(r"organization 2's run may not open \S+/organization_2/jobs/\d+/\d+/"
                     rf"{name.split('_')[0].lower()} for writing: INPUT_FILE and TOKEN_FILE are "
                     r"read-only \(in production they are mounted read-only\)", message)


def _cage(org: int, owners: dict[str, frozenset[int]] | None = None) -> Cage:
    run = f"/r/organization_{org}/jobs/1/1"
    return Cage(organization_id=org, run_dir=run, output_dir=f"{run}/output",
                home=f"{run}/home", temporary_folder=f"/r/organization_{org}/jobs/1/tmp",
                read_only=frozenset({f"{run}/input", f"{run}/token"}), private_root="/r",
                owners=DataOwners(owners or {}))


def test_the_cage_allows_the_output_folder_home_tmp_and_devices() -> None:
    cage = _cage(1)
    with pytest.raises(SandboxViolation, match="INPUT_FILE and TOKEN_FILE are read-only"):
        cage.check_write("/r/organization_1/jobs/1/1/input", "open it for writing")
    with pytest.raises(SandboxViolation, match="a run may write only in its output folder"):
        cage.check_write("/r/organization_1/jobs/1/1/elsewhere", "open it for writing")
    for path in ("/r/organization_1/jobs/1/1/output/output", "/r/organization_1/jobs/1/1/home/x",
                 "/r/organization_1/jobs/1/tmp/model", "/dev/null"):
        cage.check_write(path, "open it for writing")
    cage.check_read("/r/organization_1/jobs/1/1/input", "open it for reading")


def test_reading_another_runs_folder_is_refused(algorithms: ModuleType,
                                                site_files: list[Path]) -> None:
    with MockNetwork(algorithms, site_files) as network:
        [view] = network.run("contract_view", organizations=[2])
        other = view["TEMPORARY_FOLDER"].replace("organization_2", "organization_1")
        os.makedirs(other)  # the test, outside runs, may
        Path(other, "secret.csv").write_text("a\n1\n")
        message = _failure(network, "read_file", path=str(Path(other, "secret.csv")))

    assert "organization 2's run may not open" in message
    assert "it belongs to organization 1's runs (in production a container sees only its own " \
           "run's files and its job's temporary folder)" in message


def test_connecting_is_refused(algorithms: ModuleType, site_files: list[Path],
                               listening: tuple[socket.socket, int]) -> None:
    server, port = listening
    with MockNetwork(algorithms, site_files) as network:
        message = _failure(network, "connect", host="127.0.0.1", port=port)

    assert f"organization 2's run may not connect to 127.0.0.1:{port}: {NO_NETWORK}" in message
    with pytest.raises(TimeoutError):
        server.accept()  # nothing got through


def test_resolving_a_host_name_is_refused(algorithms: ModuleType,
                                          site_files: list[Path]) -> None:
    with MockNetwork(algorithms, site_files) as network:
        message = _failure(network, "resolve", host="example.org")
        literal = network.run("resolve", kwargs={"host": "127.0.0.1"}, organizations=[2])

    assert f"organization 2's run may not resolve the host name 'example.org': {NO_NETWORK}" \
        in message
    assert set(literal[0]) == {"127.0.0.1"}  # an address literal needs no lookup


def test_listening_is_refused(algorithms: ModuleType, site_files: list[Path]) -> None:
    with MockNetwork(algorithms, site_files) as network:
        message = _failure(network, "listen")

    assert f"organization 2's run may not listen on 127.0.0.1:0: {NO_NETWORK}" in message


def test_unix_sockets_only_in_the_runs_own_folders(algorithms: ModuleType,
                                                  site_files: list[Path],
                                                  tmp_path: Path) -> None:
    with MockNetwork(algorithms, site_files) as network:
        inside = network.run("unix_socket", kwargs={"folder": "$TEMPORARY_FOLDER"},
                             organizations=[2])
        message = _failure(network, "unix_socket", folder=str(tmp_path))

    assert inside == ["listening"]
    assert f"may not listen on the Unix socket {tmp_path / 's.sock'}: a run may write only" \
        in message


def test_a_thread_started_in_a_run_is_caged_too(algorithms: ModuleType,
                                                site_files: list[Path]) -> None:
    with MockNetwork(algorithms, site_files) as network:
        [outcome] = network.run("in_a_thread", kwargs={"path": str(site_files[0])},
                                organizations=[3])

    assert outcome.startswith("SandboxViolation: organization 3's run may not open ")
    assert "it is organization 1's data" in outcome


# ------------------------------------------------------------------ allowed in a run


def test_writing_where_a_container_may_works(algorithms: ModuleType,
                                             site_files: list[Path]) -> None:
    with MockNetwork(algorithms, site_files) as network:
        [written] = network.run("write_everywhere_allowed", organizations=[2])

    assert len(written) == 4


def test_an_import_in_a_run_works_without_writing_its_bytecode(
    algorithms: ModuleType, site_files: list[Path], tmp_path: Path
) -> None:
    package = tmp_path / "fresh"
    package.mkdir()
    (package / "v6lib_sandbox_fresh_module.py").write_text("VALUE = 42\n")
    with MockNetwork(algorithms, site_files) as network:
        result = network.run("import_fresh", kwargs={"folder": str(package),
                                                     "name": "v6lib_sandbox_fresh_module"},
                             organizations=[1])

    assert result == [42]
    assert not (package / "__pycache__").exists()  # a read-only file system, as in a container


def test_the_own_organizations_data_and_files_can_be_read(algorithms: ModuleType,
                                                          site_files: list[Path]) -> None:
    shared = site_files[0]
    with MockNetwork(algorithms, [shared, shared, site_files[2]]) as network:
        rows = network.run("read_file", kwargs={"path": str(shared)}, organizations=[1, 2])

    assert rows == [3, 3]  # a file given to both is each one's own


# ------------------------------------------------------------------ opting out


def test_the_sandbox_can_be_turned_off_by_argument(algorithms: ModuleType,
                                                   site_files: list[Path]) -> None:
    with MockNetwork(algorithms, site_files, sandbox=False) as network:
        rows = network.run("read_file", kwargs={"path": str(site_files[2])}, organizations=[2])
        [view] = network.run("contract_view", organizations=[2])

    assert rows == [5]
    assert view["INPUT_FILE"].endswith("/input")  # the contract is still there


@pytest.mark.parametrize("value", ["off", "0", "false", "NO"])
def test_the_sandbox_can_be_turned_off_by_environment(
    algorithms: ModuleType, site_files: list[Path], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("V6_MOCK_SANDBOX", value)
    with MockNetwork(algorithms, site_files) as network:
        assert network.run("read_file", kwargs={"path": str(site_files[2])},
                           organizations=[2]) == [5]
    with MockNetwork(algorithms, site_files, sandbox=True) as network:
        assert "it is organization 3's data" in _failure(network, "read_file",
                                                         path=str(site_files[2]))


def test_the_sandbox_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("V6_MOCK_SANDBOX", raising=False)
    assert sandbox_enabled(None) is True
    monkeypatch.setenv("V6_MOCK_SANDBOX", "maybe")
    with pytest.raises(ConfigurationError, match="V6_MOCK_SANDBOX must be on or off"):
        sandbox_enabled(None)
    assert sandbox_enabled(False) is False


# ------------------------------------------------------------------ outside runs


def test_outside_runs_nothing_is_refused(algorithms: ModuleType, site_files: list[Path],
                                         tmp_path: Path,
                                         listening: tuple[socket.socket, int]) -> None:
    with MockNetwork(algorithms, site_files) as network:
        network.run("read_file", kwargs={"path": str(site_files[1])}, organizations=[2])
        results: list[object] = []
        worker = threading.Thread(target=lambda: results.append(pd.read_csv(site_files[2])))
        worker.start()
        worker.join(30)

    server, port = listening
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        server.accept()[0].close()
    assert socket.getaddrinfo("localhost", 80)
    (tmp_path / "written.txt").write_text("the test process itself may")
    assert len(pd.read_csv(site_files[2])) == 5
    assert len(results[0]) == 5  # type: ignore[arg-type]


# ------------------------------------------------------------------ the rules themselves


def test_data_owners_know_files_directories_and_sqlite_urls(tmp_path: Path) -> None:
    folder = tmp_path / "parquet_dataset"
    owners = DataOwners.of(normalize_datasets(
        [str(tmp_path / "a.csv"), {"uri": str(folder), "type": "parquet"},
         {"uri": f"sqlite:///{tmp_path / 'c.db'}?mode=ro", "type": "sql"},
         {"uri": "postgresql://db.example/x", "type": "sql"}, pd.DataFrame({"a": [1]})],
        None))

    assert owners.owners(str(tmp_path / "a.csv")) == {1}
    assert owners.owners(str(folder / "part-0.parquet")) == {2}
    assert owners.owners(str(tmp_path / "c.db")) == {3}
    assert owners.owners(str(tmp_path / "other.csv")) is None


def test_a_path_shared_by_organizations_is_each_ones_own() -> None:
    owners = {"/d/shared.csv": frozenset({2, 3})}
    with pytest.raises(SandboxViolation, match="it is organizations 2 and 3's data"):
        _cage(4, owners).check_read("/d/shared.csv", "open /d/shared.csv for reading")
    _cage(3, owners).check_read("/d/shared.csv", "open /d/shared.csv for reading")


def test_a_violation_is_also_a_permission_error() -> None:
    error = SandboxViolation("organization 1's run may not ...")
    assert isinstance(error, PermissionError) and isinstance(error, AlgorithmError)
    assert error.exit_code == 77 and str(error) == error.message
