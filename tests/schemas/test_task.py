"""Task payloads: inputs sealed in vantage6's format are refused by name."""

from __future__ import annotations

import pydantic
import pytest

from v6lib.schemas.task import TaskOrganization


def test_vantage6_sealed_input_is_refused_naming_why() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"vantage6's format.*AES-CTR"):
        TaskOrganization.model_validate({"id": 1, "input": "a2V5$aXY=$bXNn"})


@pytest.mark.parametrize("given", ["e30=", ""])
def test_base64_inputs_are_accepted(given: str) -> None:
    assert TaskOrganization.model_validate({"id": 1, "input": given}).input == given


def test_other_strings_stay_a_base64_error() -> None:
    with pytest.raises(pydantic.ValidationError, match="pattern"):
        TaskOrganization.model_validate({"id": 1, "input": "a$b"})
