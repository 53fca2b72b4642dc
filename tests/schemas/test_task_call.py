"""The stdlib task input rules: parse_task_call, and that TaskInput applies the same rules."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v6lib.errors import ValidationError
from v6lib.schemas.task_call import TaskCall, check_task_input, parse_task_call
from v6lib.schemas.task_input import TaskInput


def test_plain_input() -> None:
    assert parse_task_call({"method": "partial", "args": [1], "kwargs": {"c": "age"}}) == \
        TaskCall("partial", [1], {"c": "age"}, False)


def test_defaults_and_tuple_args() -> None:
    assert parse_task_call({"method": "f"}) == TaskCall("f", [], {})
    assert parse_task_call({"method": "f", "args": (1, 2)}).args == [1, 2]


def test_legacy_master_means_central_and_legacy_keys_are_ignored() -> None:
    call = parse_task_call({"master": True, "output_format": "json", "data_format": "csv"})
    assert (call.method, call.master) == ("central", True)
    assert parse_task_call({"master": "yes", "method": "avg"}) == TaskCall("avg", [], {}, True)
    # "master": false with no method is not a central call: the method is still required
    with pytest.raises(ValidationError, match="method: is required"):
        parse_task_call({"master": "false"})


@pytest.mark.parametrize(("word", "expected"), [(True, True), (0, False), (1.0, True),
                                                ("On", True), ("F", False), ("no", False)])
def test_master_reads_booleans_like_pydantic(word: object, expected: bool) -> None:
    assert parse_task_call({"method": "f", "master": word}).master is expected
    assert TaskInput.model_validate({"method": "f", "master": word}).master is expected


@pytest.mark.parametrize(
    ("bad", "field"),
    [({}, "method"), ({"method": ""}, "method"), ({"method": "x" * 201}, "method"),
     ({"method": 3}, "method"), ({"method": "x", "args": "no"}, "args"),
     ({"method": "x", "kwargs": [1]}, "kwargs"), ({"method": "x", "kwargs": {1: 2}}, "kwargs.1"),
     ({"method": "x", "master": "maybe"}, "master"), ({"method": "x", "surprise": 1},
                                                       "surprise")],
)
def test_each_problem_names_its_field(bad: dict[Any, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_task_call(bad, "INPUT_FILE /mnt/input")
    message = str(info.value)
    assert message.startswith("INPUT_FILE /mnt/input is not a valid task input (")
    assert f"{field}: " in message
    assert message.endswith('expected {"method": str, "args": [...], "kwargs": {...}}')
    assert [p["field"] for p in info.value.details["problems"]] == [field]
    # the pydantic model reports the same field
    with pytest.raises(pydantic.ValidationError) as pyd:
        TaskInput.model_validate(bad)
    assert [".".join(map(str, e["loc"])) for e in pyd.value.errors()] == [field]


def test_all_problems_are_reported_in_field_order() -> None:
    with pytest.raises(ValidationError) as info:
        parse_task_call({"zzz": 1, "master": [], "args": {}, "method": None})
    assert [p["field"] for p in info.value.details["problems"]] == [
        "method", "args", "master", "zzz"]


@pytest.mark.parametrize("bad", [None, [1], "noop"])
def test_not_an_object(bad: object) -> None:
    with pytest.raises(ValidationError, match=r"the task input is not a valid task input "
                                              r"\(input: must be an object"):
        parse_task_call(bad)


_values = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(0, 1),
                    st.text(max_size=3), st.sampled_from(["yes", "off", "central", "x" * 201]),
                    st.lists(st.integers(), max_size=2), st.tuples(st.integers()),
                    st.dictionaries(st.one_of(st.text(max_size=2), st.integers(0, 2)),
                                    st.integers(), max_size=2))
_inputs = st.dictionaries(
    st.sampled_from(["method", "args", "kwargs", "master", "output_format", "other"]), _values,
    max_size=5)


@settings(max_examples=300, deadline=None)
@given(_inputs)
def test_task_input_and_parse_task_call_agree(raw: dict[str, Any]) -> None:
    try:
        call = parse_task_call(raw)
    except ValidationError as exc:
        with pytest.raises(pydantic.ValidationError) as pyd:
            TaskInput.model_validate(raw)
        assert [".".join(map(str, e["loc"])) for e in pyd.value.errors()] == [
            p["field"] for p in exc.details["problems"]]
    else:
        model = TaskInput.model_validate(raw)
        assert (model.method, model.args, model.kwargs, model.master) == (
            call.method, call.args, call.kwargs, call.master)


def test_check_task_input_does_not_change_its_argument() -> None:
    raw = {"master": True, "output_format": "json", "args": (1,)}
    check_task_input(raw)
    assert raw == {"master": True, "output_format": "json", "args": (1,)}


def test_the_rules_and_the_package_import_no_pydantic() -> None:
    code = ("import sys, v6lib.schemas, v6lib.schemas.task_call; "
            "print(sorted(m for m in ('pydantic', 'pydantic_core') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_every_public_schema_name_is_importable_from_the_package() -> None:
    import v6lib.schemas as schemas

    missing = [name for name in schemas.__all__ if getattr(schemas, name, None) is None]
    assert missing == []
    assert set(dir(schemas)) >= set(schemas.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = schemas.Nope  # type: ignore[attr-defined]
    from v6lib.schemas import TaskIn
    from v6lib.schemas import TaskInput as Exported

    assert Exported is TaskInput and TaskIn.__module__ == "v6lib.schemas.task"
