"""dispatch(): method resolution, legacy names, errors; write_atomic; main() in-process."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from v6lib import serialization
from v6lib.errors import (
    AlgorithmError,
    ConfigurationError,
    DataError,
    SerializationError,
    ValidationError,
)
from v6lib.rules.failures import read_failure_record
from v6lib.schemas.task_input import TaskInput
from v6lib.wrappers.context import AlgorithmContext
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.decorators import data
from v6lib.wrappers.dispatch import dispatch, public_functions, resolve_method
from v6lib.wrappers.metadata import RunMetadata
from v6lib.wrappers.runner import (
    describe_failure,
    encode_result,
    exit_code,
    failure_log,
    main,
    wrap_algorithm,
    write_atomic,
)

from .algorithm_fixture import forget, write_algorithm


@pytest.fixture
def algorithm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    name = write_algorithm(tmp_path / "pkgs")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    yield importlib.import_module(name)
    forget(name)


@pytest.fixture
def two_dbs(csv_db) -> list[DatabaseSpec]:
    return [csv_db("b", pd.DataFrame({"v": [1, 2, 3]})), csv_db("a", pd.DataFrame({"v": [5]}))]


def test_public_functions_are_the_package_own_ones(algorithm: ModuleType) -> None:
    assert public_functions(algorithm) == [
        "RPC_legacy_sum", "bad_data", "boom", "central_average", "echo", "frame_result",
        "legacy_master", "quits", "sizes", "total", "unserializable", "whoami"]


def test_args_and_kwargs_are_passed(algorithm: ModuleType) -> None:
    result = dispatch(algorithm, TaskInput(method="echo", args=[1, "two"], kwargs={"k": [3]}),
                      AlgorithmContext())
    assert result == {"args": [1, "two"], "kwargs": {"k": [3]}}


def test_module_by_name_and_dict_input(algorithm: ModuleType, two_dbs) -> None:
    result = dispatch(algorithm.__name__, {"method": "total", "kwargs": {"column": "v"}},
                      AlgorithmContext(databases=two_dbs))
    assert result == {"sum": 6.0, "n": 3}


def test_data_order_follows_the_context(algorithm: ModuleType, two_dbs) -> None:
    assert dispatch(algorithm, TaskInput(method="sizes"),
                    AlgorithmContext(databases=two_dbs)) == [3, 1]
    assert dispatch(algorithm, TaskInput(method="sizes"),
                    AlgorithmContext(databases=two_dbs[::-1])) == [1, 3]


def test_context_is_active_only_during_the_call(algorithm: ModuleType) -> None:
    meta = RunMetadata(task_id=4, organization_id=2, collaboration_id=1, run_id=8)
    out = dispatch(algorithm, TaskInput(method="whoami"), AlgorithmContext(metadata=meta))
    assert out["task_id"] == 4 and out["run_id"] == 8
    with pytest.raises(AlgorithmError, match="through the wrapper"):
        algorithm.whoami()


@pytest.mark.parametrize("method", ["nope", "_private", "join", "os", "Model", "__init__"])
def test_unknown_or_unreachable_method_lists_available(algorithm: ModuleType,
                                                       method: str) -> None:
    with pytest.raises(AlgorithmError) as info:
        dispatch(algorithm, TaskInput(method=method), AlgorithmContext())
    message = str(info.value)
    assert f"no public function {method!r}" in message
    assert "available: RPC_legacy_sum, bad_data, boom" in message


@pytest.mark.parametrize("method", ["legacy_sum", "RPC_legacy_sum"])
def test_legacy_rpc_functions_get_the_first_database(algorithm: ModuleType, two_dbs,
                                                     method: str) -> None:
    function, style = resolve_method(algorithm, TaskInput(method=method))
    assert (function, style) == (algorithm.RPC_legacy_sum, "legacy_partial")
    result = dispatch(algorithm, TaskInput(method=method, kwargs={"column": "v"}),
                      AlgorithmContext(databases=two_dbs))
    assert result == 6


def test_legacy_rpc_without_database(algorithm: ModuleType) -> None:
    with pytest.raises(DataError, match="requested no database"):
        dispatch(algorithm, TaskInput(method="legacy_sum", args=["v"]), AlgorithmContext())


def test_legacy_master_gets_client_and_data(algorithm: ModuleType, two_dbs) -> None:
    class Client:
        pass

    ctx = AlgorithmContext(databases=two_dbs, client_factory=Client)  # type: ignore[arg-type]
    out = dispatch(algorithm, {"master": True, "method": "legacy_master", "args": [5]}, ctx)
    assert out == {"client": "Client", "rows": 3, "x": 5}
    no_db = AlgorithmContext(client_factory=Client)  # type: ignore[arg-type]
    assert dispatch(algorithm, {"master": True, "method": "legacy_master", "args": [1]},
                    no_db)["rows"] is None


def test_master_flag_on_a_decorated_function_calls_it_normally(algorithm: ModuleType,
                                                               two_dbs) -> None:
    function, style = resolve_method(algorithm, TaskInput(method="total", master=True))
    assert style == "plain" and function is algorithm.total


def test_invalid_input_dict(algorithm: ModuleType) -> None:
    with pytest.raises(ValidationError, match="method"):
        dispatch(algorithm, {"args": [1]}, AlgorithmContext())


def test_algorithm_exceptions_propagate_unchanged(algorithm: ModuleType) -> None:
    with pytest.raises(ValueError, match="on purpose"):
        dispatch(algorithm, TaskInput(method="boom"), AlgorithmContext())


# ------------------------------------------------------------------ write_atomic


def test_write_atomic_leaves_only_the_output(tmp_path: Path) -> None:
    target = tmp_path / "output"
    target.write_bytes(b"old")
    write_atomic(target, b'{"ok":true}')
    assert target.read_bytes() == b'{"ok":true}'
    assert [p.name for p in tmp_path.iterdir()] == ["output"]


def test_write_atomic_falls_back_to_writing_in_place(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import v6lib.wrappers.runner as runner

    def refuse(src: str, dst: str) -> None:
        raise OSError(16, "Device or resource busy")  # rename onto a bind-mounted file

    monkeypatch.setattr(runner.os, "replace", refuse)
    target = tmp_path / "output"
    write_atomic(target, b"[1]")
    assert target.read_bytes() == b"[1]"
    assert [p.name for p in tmp_path.iterdir()] == ["output"]


# ------------------------------------------------------------------ main() in-process


@pytest.fixture
def container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, algorithm: ModuleType):
    files = {"input": tmp_path / "input", "output": tmp_path / "output",
             "token": tmp_path / "token"}
    files["token"].write_text("")
    for key in list(__import__("os").environ):
        if key.endswith(("_DATABASE_URI", "_DATABASE_TYPE")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("INPUT_FILE", str(files["input"]))
    monkeypatch.setenv("OUTPUT_FILE", str(files["output"]))
    monkeypatch.setenv("TOKEN_FILE", str(files["token"]))
    monkeypatch.setenv("PKG_NAME", algorithm.__name__)
    monkeypatch.setenv("USER_REQUESTED_DATABASE_LABELS", "")
    for key in ("HOST", "PORT", "TEMPORARY_FOLDER"):
        monkeypatch.delenv(key, raising=False)
    return files


def test_main_in_process_success(container, capsys: pytest.CaptureFixture[str]) -> None:
    container["input"].write_text(json.dumps({"method": "echo", "args": [1]}))
    assert main([]) == 0
    assert json.loads(container["output"].read_text()) == {"args": [1], "kwargs": {}}


def test_main_in_process_maps_errors_to_exit_codes(container,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    container["input"].write_text(json.dumps({"method": "bad_data"}))
    assert main([]) == DataError.exit_code
    assert "DataError: column 'age' is missing" in capsys.readouterr().err
    # no result; only the one-line reason the node reports to the researcher
    reason = read_failure_record(container["output"].read_bytes())
    assert reason is not None and reason.startswith("DataError: column 'age' is missing")


@pytest.mark.parametrize("log_traceback", [True, False])
def test_wrap_algorithm_log_traceback(container, capsys: pytest.CaptureFixture[str],
                                      log_traceback: bool) -> None:
    container["input"].write_text(json.dumps({"method": "bad_data"}))

    with pytest.raises(SystemExit) as stopped:
        wrap_algorithm(log_traceback=log_traceback)

    assert stopped.value.code == DataError.exit_code
    log = capsys.readouterr().err
    assert "DataError: column 'age' is missing" in log
    assert ("Traceback (most recent call last)" in log) is log_traceback


def test_main_without_host_cannot_build_a_client(container,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    container["input"].write_text(json.dumps({"method": "central_average", "args": ["v"]}))
    assert main([]) == ConfigurationError.exit_code
    assert "HOST is not set" in capsys.readouterr().err


def test_decorated_functions_from_elsewhere_are_callable_undecorated_are_not() -> None:
    @data(1)
    def shared_partial(df):
        return len(df)

    def shared_helper():
        return "not reachable"

    module = ModuleType("dynamic_algorithm")
    module.shared_partial = shared_partial  # type: ignore[attr-defined]
    module.shared_helper = shared_helper  # type: ignore[attr-defined]
    assert public_functions(module) == ["shared_partial"]
    with pytest.raises(AlgorithmError, match="no public function 'shared_helper'"):
        resolve_method(module, TaskInput(method="shared_helper"))


@pytest.mark.parametrize(
    ("task_input", "expected"),
    [
        (TaskInput(method="total"), r"missing a required argument: 'column'"),
        (TaskInput(method="total", kwargs={"column": "v", "colour": 1}), r"'colour'"),
        (TaskInput(method="legacy_sum", args=["v", "w"]), r"too many positional"),
    ],
)
def test_arguments_that_do_not_fit_fail_before_loading_data(algorithm: ModuleType,
                                                            task_input: TaskInput,
                                                            expected: str) -> None:
    def loader(spec: DatabaseSpec, columns: object) -> pd.DataFrame:
        raise AssertionError("data must not be loaded for a call that cannot work")

    ctx = AlgorithmContext(databases=[DatabaseSpec("a", "/a", "csv")], data_loader=loader)
    with pytest.raises(ValidationError, match=expected) as info:
        dispatch(algorithm, task_input, ctx)
    assert "filled in by the wrapper" in str(info.value)


def test_encode_result_is_the_serialized_result() -> None:
    assert encode_result({"sum": 3.5, "n": [1, 2]}, "pkg.f") == serialization.dumps(
        {"sum": 3.5, "n": [1, 2]}, root="result")


def test_encode_result_names_the_call_and_the_bad_value() -> None:
    with pytest.raises(SerializationError) as caught:
        encode_result({"model": [1, object()]}, "pkg.fit")

    assert caught.value.message.startswith(
        "the result of pkg.fit cannot be written to OUTPUT_FILE: ")
    assert "result['model'][1]" in caught.value.message


@pytest.mark.parametrize(
    ("exc", "code", "summary"),
    [
        (DataError("column 'age' is missing"), DataError.exit_code,
         "DataError: column 'age' is missing"),
        (KeyError("age"), 1, "KeyError: 'age'"),
        (SystemExit(3), 3,
         "AlgorithmError: the algorithm called exit(3) instead of returning a result"),
        (SystemExit(0), 1,
         "AlgorithmError: the algorithm called exit(0) instead of returning a result"),
        (SystemExit("bye"), 1,
         "AlgorithmError: the algorithm called exit('bye') instead of returning a result"),
    ],
)
def test_describe_failure_and_exit_code(exc: BaseException, code: int, summary: str) -> None:
    assert exit_code(exc) == code
    assert describe_failure(exc) == (
        f"v6lib: the run failed and wrote no result. {summary} (exit code {code})")


def test_failure_log_is_the_summary_then_the_traceback() -> None:
    try:
        raise KeyError("age")
    except KeyError as exc:
        log = failure_log(exc)

    first, second, *rest = log.splitlines()
    assert first == describe_failure(KeyError("age"))
    assert second == "Traceback (most recent call last):"
    assert rest[-1] == "KeyError: 'age'"


def test_main_writes_the_failure_log(container, capsys: pytest.CaptureFixture[str]) -> None:
    container["input"].write_text(json.dumps({"method": "bad_data"}))
    code = main([])
    err = capsys.readouterr().err

    assert code == DataError.exit_code
    expected = describe_failure(DataError("column 'age' is missing in database 'default'"))
    assert err[err.index("v6lib: the run failed"):].startswith(
        expected + "\nTraceback (most recent call last):")


def test_dispatch_takes_the_light_task_call_too(algorithm: ModuleType) -> None:
    from v6lib.schemas.task_call import TaskCall

    assert dispatch(algorithm, TaskCall("echo", [2], {"k": 1}), AlgorithmContext()) == {
        "args": [2], "kwargs": {"k": 1}}


def test_invalid_input_names_every_problem(algorithm: ModuleType) -> None:
    with pytest.raises(ValidationError) as info:
        dispatch(algorithm, {"method": "echo", "args": "x", "extra": 1}, AlgorithmContext())
    assert str(info.value).startswith("the task input is not a valid task input (args: ")
    assert "extra: is not a task input field" in str(info.value)


def test_write_atomic_output_is_private_like_mkstemp(tmp_path: Path) -> None:
    target = tmp_path / "output"
    write_atomic(target, b"1")
    assert target.stat().st_mode & 0o777 == 0o600
