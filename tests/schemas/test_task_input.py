"""Task input parsing, including the legacy ``master`` form."""

from __future__ import annotations

import pydantic
import pytest

from v6lib.schemas import TaskInput


def test_plain_input() -> None:
    parsed = TaskInput.model_validate({"method": "partial", "args": [1], "kwargs": {"c": "age"}})
    assert (parsed.method, parsed.args, parsed.kwargs, parsed.master) == (
        "partial", [1], {"c": "age"}, False)


def test_legacy_master_flag_means_central() -> None:
    parsed = TaskInput.model_validate({"master": True, "method": "avg", "output_format": "json"})
    assert parsed.master and parsed.method == "avg"
    assert TaskInput.model_validate({"master": True}).method == "central"


@pytest.mark.parametrize(
    "bad",
    [{}, {"method": ""}, {"method": "x", "args": "no"}, {"method": "x", "surprise": 1}],
)
def test_bad_input_names_the_field(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        TaskInput.model_validate(bad)
    assert info.value.errors()[0]["loc"]
