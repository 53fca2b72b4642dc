"""``python -m v6lib.wrappers`` as a real process: the container contract end to end."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from v6lib import serialization
from v6lib.errors import ConfigurationError, DataError, SerializationError, ValidationError
from v6lib.rules.failures import read_failure_record

from .algorithm_fixture import write_algorithm
from .fake_proxy import FakeProxy, page
from .test_token import make_jwt


@dataclass
class Container:
    """The files and environment the node would give one algorithm container."""

    folder: Path
    env: dict[str, str]

    @property
    def input(self) -> Path:
        return self.folder / "io" / "input"

    @property
    def output(self) -> Path:
        return self.folder / "io" / "output"

    def run(self, task_input: object, *args: str) -> subprocess.CompletedProcess[str]:
        self.input.write_bytes(serialization.dumps(task_input))
        return subprocess.run([sys.executable, "-m", "v6lib.wrappers", *args], env=self.env,
                              capture_output=True, text=True, timeout=120)


@pytest.fixture
def container(tmp_path: Path) -> Container:
    package = write_algorithm(tmp_path / "pkgs")
    (tmp_path / "io").mkdir()
    (tmp_path / "tmp").mkdir()
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"age": [20, 30, 40]}).to_csv(data / "one.csv", index=False)
    pd.DataFrame({"age": [1, 2]}).to_parquet(data / "two.parquet")
    token = make_jwt({"task_id": 10, "run_id": 21, "organization_id": 2, "collaboration_id": 1,
                      "image": "algo:1"})
    (tmp_path / "io" / "token").write_text(token + "\n")
    env = {key: value for key, value in os.environ.items()
           if not key.endswith(("_DATABASE_URI", "_DATABASE_TYPE", "_QUERY"))}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "pkgs"), env.get("PYTHONPATH", "")]),
        "INPUT_FILE": str(tmp_path / "io" / "input"),
        "OUTPUT_FILE": str(tmp_path / "io" / "output"),
        "TOKEN_FILE": str(tmp_path / "io" / "token"),
        "TEMPORARY_FOLDER": str(tmp_path / "tmp"),
        "PKG_NAME": package,
        "USER_REQUESTED_DATABASE_LABELS": "second,first",
        "FIRST_DATABASE_URI": str(data / "one.csv"),
        "FIRST_DATABASE_TYPE": "csv",
        "SECOND_DATABASE_URI": str(data / "two.parquet"),
        "SECOND_DATABASE_TYPE": "parquet",
    })
    for key in ("HOST", "PORT", "API_PATH"):
        env.pop(key, None)
    return Container(tmp_path, env)


def test_partial_reads_databases_and_writes_json(container: Container) -> None:
    done = container.run({"method": "total", "kwargs": {"column": "age"}})
    assert done.returncode == 0, done.stderr
    assert json.loads(container.output.read_text()) == {"sum": 3.0, "n": 2}
    assert container.run({"method": "sizes"}).returncode == 0
    assert json.loads(container.output.read_text()) == [2, 3]  # second, then first
    assert sorted(p.name for p in container.output.parent.iterdir()) == [
        "input", "output", "token"]


def test_metadata_comes_from_the_token(container: Container) -> None:
    assert container.run({"method": "whoami"}).returncode == 0
    assert json.loads(container.output.read_text()) == {
        "task_id": 10, "organization_id": 2, "collaboration_id": 1, "run_id": 21,
        "temporary_folder": str(container.folder / "tmp")}


def test_dataframe_result_round_trips(container: Container) -> None:
    assert container.run({"method": "frame_result"}).returncode == 0
    result = serialization.loads(container.output.read_bytes())
    assert result.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_legacy_input_and_package_argument(container: Container) -> None:
    package = container.env.pop("PKG_NAME")
    done = container.run({"method": "legacy_sum", "args": ["age"], "output_format": "json"},
                         package)
    assert done.returncode == 0, done.stderr
    assert json.loads(container.output.read_text()) == 3


def test_exception_gives_exit_1_a_message_and_no_output(container: Container) -> None:
    done = container.run({"method": "boom"})
    assert done.returncode == 1
    assert "the run failed and wrote no result" in done.stderr
    assert "ValueError: the algorithm broke on purpose" in done.stderr
    assert "Traceback" in done.stderr
    assert read_failure_record(container.output.read_bytes()) == (
        "ValueError: the algorithm broke on purpose")


def test_v6_error_exit_code(container: Container) -> None:
    done = container.run({"method": "bad_data"})
    assert done.returncode == DataError.exit_code
    assert "DataError: column 'age' is missing in database 'default'" in done.stderr
    assert str(read_failure_record(container.output.read_bytes())).startswith(
        "DataError: column 'age' is missing in database 'default'")


def test_unserializable_result(container: Container) -> None:
    done = container.run({"method": "unserializable"})
    assert done.returncode == SerializationError.exit_code
    assert "result['model'][1]" in done.stderr
    assert "object of type object cannot be serialized" in done.stderr
    assert "result['model'][1]" in str(read_failure_record(container.output.read_bytes()))


def test_exit_inside_the_algorithm(container: Container) -> None:
    done = container.run({"method": "quits"})
    assert done.returncode == 3
    assert "called exit(3)" in done.stderr


def test_unknown_method(container: Container) -> None:
    done = container.run({"method": "missing"})
    assert done.returncode == 70
    assert "no public function 'missing'; available:" in done.stderr


def test_missing_database_variable(container: Container) -> None:
    del container.env["FIRST_DATABASE_TYPE"]
    done = container.run({"method": "sizes"})
    assert done.returncode == DataError.exit_code
    assert "FIRST_DATABASE_TYPE" in done.stderr


def test_invalid_input_file(container: Container) -> None:
    container.input.write_text("{not json")
    done = subprocess.run([sys.executable, "-m", "v6lib.wrappers"], env=container.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == ValidationError.exit_code
    assert "INPUT_FILE" in done.stderr and "not valid JSON" in done.stderr


def test_incomplete_environment(container: Container) -> None:
    del container.env["OUTPUT_FILE"]
    done = container.run({"method": "echo"})
    assert done.returncode == ConfigurationError.exit_code
    assert "OUTPUT_FILE" in done.stderr


def test_unknown_package(container: Container) -> None:
    container.env["PKG_NAME"] = "no-such-algorithm"
    done = container.run({"method": "echo"})
    assert done.returncode == ConfigurationError.exit_code
    assert "'no-such-algorithm' (PKG_NAME) cannot be imported" in done.stderr


def test_wrap_algorithm_entrypoint(container: Container) -> None:
    container.input.write_bytes(serialization.dumps({"method": "echo", "args": [7]}))
    code = ("from v6lib.wrappers import docker_wrapper, wrap_algorithm; "
            "assert docker_wrapper is wrap_algorithm; wrap_algorithm()")
    done = subprocess.run([sys.executable, "-c", code], env=container.env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(container.output.read_text()) == {"args": [7], "kwargs": {}}


# ------------------------------------------------------------------ central over the proxy


@pytest.fixture
def proxy() -> Iterator[FakeProxy]:
    fake = FakeProxy()

    def result(value: object) -> str:
        return base64.b64encode(serialization.dumps(value)).decode()

    fake.on("GET", "/api/organization", page([{"id": 2, "name": "A"}, {"id": 3, "name": "B"}]))
    fake.on("POST", "/api/task", lambda r: (201, {"id": 11, "status": "pending",
                                                  "name": r.body["name"]}))
    fake.on("GET", "/api/task/11/wait", {"id": 11, "status": "completed"})
    fake.on("GET", "/api/run", page([
        {"id": 31, "task_id": 11, "organization_id": 3, "status": "completed",
         "result": result({"sum": 10.0, "n": 1}), "log": ""},
        {"id": 30, "task_id": 11, "organization_id": 2, "status": "completed",
         "result": result({"sum": 90.0, "n": 3}), "log": ""},
    ]))
    fake.start()
    yield fake
    fake.stop()


def test_central_function_creates_a_subtask_through_the_proxy(container: Container,
                                                              proxy: FakeProxy) -> None:
    container.env.update({"HOST": "127.0.0.1", "PORT": str(proxy.port), "API_PATH": "/api"})
    done = container.run({"method": "central_average", "args": ["age"]})
    assert done.returncode == 0, done.stderr
    assert json.loads(container.output.read_text()) == {"average": 25.0,
                                                        "organizations": [2, 3], "me": 2}
    token = (container.folder / "io" / "token").read_text().strip()
    assert {r.headers["Authorization"] for r in proxy.requests} == {f"Bearer {token}"}
    [create] = proxy.seen("POST", "/api/task")
    assert create.body["collaboration_id"] == 1 and create.body["image"] == "algo:1"
    assert [o["id"] for o in create.body["organizations"]] == [2, 3]
    sent = serialization.loads(base64.b64decode(create.body["organizations"][0]["input"]))
    assert sent == {"method": "total", "args": [], "kwargs": {"column": "age"}}
    assert proxy.seen("GET", "/api/organization")[0].params["collaboration_id"] == "1"
