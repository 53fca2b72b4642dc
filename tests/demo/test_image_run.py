"""Which organizations ``v6 algorithm run`` sends its task to (the run itself is in
tests/cli/test_algorithm_image.py, on Docker)."""

from __future__ import annotations

import pytest

from v6lib.demo.image_run import select_organizations
from v6lib.errors import ValidationError


@pytest.mark.parametrize(("choice", "expected"), [
    ("first", [11]), ("all", [11, 12, 13]), ([3, 1], [13, 11]),
])
def test_choices_name_organizations(choice: str | list[int], expected: list[int]) -> None:
    assert select_organizations(choice, [11, 12, 13]) == expected


@pytest.mark.parametrize("choice", ["some", [0], [4], []])
def test_unknown_choices_are_refused(choice: str | list[int]) -> None:
    with pytest.raises(ValidationError, match="organization"):
        select_organizations(choice, [11, 12, 13])
