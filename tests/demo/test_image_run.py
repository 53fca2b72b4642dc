"""Which organizations ``v6 algorithm run`` sends its task to, and which data files need
its ``--query`` (the run itself is in tests/cli/test_algorithm_image.py, on Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from v6lib.demo.image_run import check_query, select_organizations
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


@pytest.mark.parametrize(("files", "query", "refused"), [
    (["a.sqlite", "b.db", "c.ttl"], None, "need --query"),
    (["a.csv", "b.sqlite", "c.csv"], "  ", "need --query"),
    (["a.csv", "b.parquet", "c.xlsx"], "SELECT 1", "--query is for SQL and SPARQL"),
    (["a.csv", "b.csv", "c.csv"], None, None),
    (["a.sqlite", "b.sqlite3", "c.ttl"], "SELECT * FROM t", None),
])
def test_sql_and_sparql_files_need_the_query_and_others_take_none(
        files: list[str], query: str | None, refused: str | None) -> None:
    paths = [Path(name) for name in files]
    if refused is None:
        check_query(paths, query)
    else:
        with pytest.raises(ValidationError, match=refused):
            check_query(paths, query)
