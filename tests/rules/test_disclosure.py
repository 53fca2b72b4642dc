"""The disclosure rule: what a data owner's node lets leave, and the reason it gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from v6lib.errors import ConfigurationError
from v6lib.rules.disclosure import DisclosurePolicy, check_output
from v6lib.serialization import dumps
from v6lib.serialization.aggregates import Count, CountTable, Sum

STRICT = DisclosurePolicy(min_cell_count=5, refuse_row_level=True)


@pytest.fixture
def penguins() -> pd.DataFrame:
    return pd.DataFrame({"island": ["biscoe"] * 10 + ["islands"] * 2 + ["dream"] * 10,
                         "sex": ["F", "M"] * 5 + ["M", "M"] + ["F", "M"] * 5,
                         "mass": np.arange(22, dtype=float)})


def reason(policy: DisclosurePolicy, value: object, rows: tuple[int, ...] = (22,)) -> str | None:
    return check_output(policy, dumps(value), input_rows=rows).reason


def test_a_small_cell_of_a_typed_table_is_refused_naming_the_cell(penguins) -> None:
    table = CountTable(pd.crosstab(penguins["island"], penguins["sex"]))
    assert reason(STRICT, {"table": table}) == (
        "refused by min_cell_count=5 at result['table'] (cell ('islands', 'M') = 2)")


def test_suppressed_and_zero_cells_pass(penguins) -> None:
    counts = pd.crosstab(penguins["island"], penguins["sex"])
    suppressed = counts.astype("Int64").mask((counts > 0) & (counts < 5))
    assert reason(STRICT, CountTable(suppressed)) is None


def test_an_untyped_crosstab_is_read_as_counts(penguins) -> None:
    crosstab = pd.crosstab(penguins["island"], penguins["sex"])
    assert reason(STRICT, crosstab) == (
        "refused by min_cell_count=5 at result (cell ('islands', 'M') = 2, an untyped "
        "integer table read as counts)")
    assert reason(DisclosurePolicy(min_cell_count=5, untyped="allow"), crosstab) is None


def test_counts_sums_and_count_like_keys() -> None:
    assert reason(STRICT, Count(3)) == "refused by min_cell_count=5 at result (count = 3)"
    assert reason(STRICT, Count(0)) is None and reason(STRICT, Count(7)) is None
    assert reason(STRICT, {"s": Sum(10.5, 2)}) == (
        "refused by min_cell_count=5 at result['s'].n (n = 2)")
    assert reason(STRICT, {"average": 4.5, "n_cases": 4}) == (
        "refused by min_cell_count=5 at result['n_cases'] (count = 4, read as a count from "
        "its key)")
    assert reason(STRICT, {"average": 4.5, "count": 40}) is None


@pytest.mark.parametrize("fake", [Count(-1), Count(2.5), Count("7"), Count(True),
                                  CountTable(pd.Series([1.5, 7.0])),
                                  CountTable(pd.Series(["a", "b"])), CountTable([1, 2])])
def test_a_typed_aggregate_that_lies_about_being_a_count_is_refused(fake) -> None:
    assert reason(DisclosurePolicy(min_cell_count=1), fake).startswith("refused: result")


def test_row_level_frames_lists_and_identifier_columns(penguins) -> None:
    assert reason(STRICT, {"rows": penguins}) == (
        "refused by refuse_row_level at result['rows'] (a DataFrame of 22 rows; a database "
        "of this run has 22 rows)")
    # dropping rows does not get a column past the rule
    assert "refuse_row_level" in reason(STRICT, penguins["mass"].iloc[:-3].tolist())
    assert "refuse_row_level" in reason(STRICT, penguins["mass"].to_numpy())
    named = pd.DataFrame({"Patient ID": ["a"], "mass": [1.0]})
    assert reason(STRICT, named) == ("refused by refuse_row_level at result (identifier-like "
                                     "column 'Patient ID')")
    by_person = pd.Series([9], index=pd.Index(["x"], name="email"))
    assert "identifier-like column 'email'" in reason(STRICT, CountTable(by_person))
    assert reason(STRICT, {"means": penguins.groupby("island")["mass"].mean()}) is None


def test_untyped_refuse_lets_only_typed_aggregates_and_labels_leave() -> None:
    policy = DisclosurePolicy(untyped="refuse")
    assert reason(policy, {"label": "biscoe", "n": Count(8), "ok": True}) is None
    assert reason(policy, {"mean": 2.5}) == (
        "refused by untyped=refuse at result['mean'] (a float; only typed aggregates "
        "(Count, CountTable, Sum) and labels may leave)")
    assert "string of 201 characters" in reason(policy, ["x" * 201])


def test_size_and_unreadable_outputs() -> None:
    assert check_output(DisclosurePolicy(max_result_bytes=10), b'{"a": "0123456789"}').reason \
        == "refused by max_result_bytes=10 (the result has 19 bytes)"
    broken = b'{"__v6__": "numpy.ndarray", "npy": "not base64"}'
    assert check_output(STRICT, broken).reason.startswith(
        "refused: the result cannot be read to check it")


def test_nothing_configured_checks_nothing(penguins) -> None:
    assert not DisclosurePolicy().active
    assert reason(DisclosurePolicy(), penguins) is None


def test_bad_settings_are_refused_at_configuration() -> None:
    with pytest.raises(ConfigurationError, match="untyped"):
        DisclosurePolicy(untyped="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="identifier_columns"):
        DisclosurePolicy(identifier_columns=("(",))


@pytest.mark.parametrize("smuggled", [
    Sum("the whole data set as text", 1000),
    Sum({"rows": [1, 2, 3]}, 1000),
    CountTable(pd.Series([0], index=["x" * 5000])),
    {"x" * 5000: Count(0)},
])
def test_strict_mode_refuses_data_smuggled_inside_typed_aggregates(smuggled) -> None:
    assert reason(DisclosurePolicy(untyped="refuse"), smuggled).startswith("refused")


def test_a_sum_of_numbers_passes_strict_mode(penguins) -> None:
    policy = DisclosurePolicy(min_cell_count=5, untyped="refuse")
    assert reason(policy, Sum(penguins[["mass"]].sum(), 22)) is None
    assert reason(policy, Sum(np.array([1.5, 2.5]), 22)) is None
    assert reason(policy, Sum(float("nan"), 22)) is None


def test_short_keys_of_any_type_are_labels_in_strict_mode() -> None:
    assert reason(DisclosurePolicy(untyped="refuse"), {1: Count(5), ("F", 2): Count(0)}) \
        is None
