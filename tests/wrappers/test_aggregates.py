"""The helpers that make a result pass disclosure control by construction."""

from __future__ import annotations

import pandas as pd

from v6lib.rules.disclosure import DisclosurePolicy, check_output
from v6lib.serialization import dumps, loads
from v6lib.wrappers.aggregates import (
    Count,
    CountTable,
    Sum,
    count,
    count_table,
    round_counts,
    sum_with_n,
    suppress_small_cells,
)

POLICY = DisclosurePolicy(min_cell_count=5, refuse_row_level=True)
VISITS = pd.DataFrame({"island": ["biscoe"] * 7 + ["islands"] * 2,
                       "sex": ["F"] * 6 + ["M"] * 3, "mass": range(9)})


def passes(value: object) -> bool:
    return check_output(POLICY, dumps(value), input_rows=[len(VISITS)]).allowed


def test_suppression_makes_a_refused_crosstab_pass() -> None:
    table = count_table(VISITS, "island", "sex")
    assert not passes(table)
    suppressed = suppress_small_cells(table, 5)
    assert passes(suppressed)
    assert suppressed.table.loc["biscoe", "F"] == 6
    assert suppressed.table.loc["biscoe", "M"] is pd.NA
    assert suppressed.table.loc["islands", "F"] == 0  # a zero is not a small cell


def test_rounding_and_grouped_counts() -> None:
    rounded = round_counts(count_table(VISITS, ["island", "sex"]), 5)
    assert rounded.table.tolist() == [5, 0, 0]
    assert passes(rounded)


def test_aggregates_arrive_as_what_they_are() -> None:
    value = {"n": count(9), "mass": sum_with_n(VISITS["mass"]),
             "table": count_table(VISITS, "island", "sex")}
    received = loads(dumps(value))
    assert received["n"] == Count(9)
    assert received["mass"] == Sum(36, 9)
    assert isinstance(received["table"], CountTable)
    pd.testing.assert_frame_equal(received["table"].table, value["table"].table)
