"""The JSON codec: lossless round trips, explicit NaN/inf policy, pandas values, clear errors."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v6lib.errors import SerializationError
from v6lib.serialization import TAG, dumps, loads

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8).filter(lambda k: k != TAG), children, max_size=5),
    max_leaves=30,
)


def same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN and compares floats bit-exactly."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_json_values_round_trip_losslessly(value: Any) -> None:
    encoded = dumps(value)
    assert isinstance(encoded, bytes)
    assert same(loads(encoded), value)
    assert dumps(value) == encoded  # deterministic


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_output_is_standard_json(value: Any) -> None:
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard constant {constant} in output")

    json.loads(dumps(value), parse_constant=refuse)


@pytest.mark.parametrize(
    ("value", "text"), [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")]
)
def test_non_finite_floats_are_tagged(value: float, text: str) -> None:
    encoded = dumps([value])
    assert json.loads(encoded) == [{TAG: "float", "value": text}]
    back = loads(encoded)[0]
    assert (math.isnan(back) and math.isnan(value)) or back == value


def test_loads_accepts_nan_literals_from_other_producers() -> None:
    assert math.isnan(loads(b"[NaN]")[0])
    assert loads("[Infinity, -Infinity]") == [math.inf, -math.inf]


def test_numpy_scalars_and_arrays() -> None:
    value = {
        "i": np.int64(7),
        "u": np.uint8(3),
        "f": np.float32(1.5),
        "b": np.bool_(True),
        "a": np.arange(6).reshape(2, 3),
        "nan": np.float64("nan"),
        "fa": np.array([1.0, np.nan, np.inf]),
        "s": np.str_("x"),
        "d": np.datetime64("2024-03-01T12:00:00"),
        "nat": np.datetime64("NaT"),
    }
    back = loads(dumps(value))
    assert back["i"] == 7 and type(back["i"]) is int
    assert back["u"] == 3
    assert back["f"] == 1.5
    assert back["b"] is True
    assert back["a"] == [[0, 1, 2], [3, 4, 5]]
    assert math.isnan(back["nan"])
    assert back["fa"][0] == 1.0 and math.isnan(back["fa"][1]) and back["fa"][2] == math.inf
    assert back["s"] == "x"
    assert back["d"].startswith("2024-03-01T12:00:00")
    assert back["nat"] is None


def test_dates_decimals_sets_tuples_bytes() -> None:
    value = {
        "dt": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "date": dt.date(2024, 1, 2),
        "ts": pd.Timestamp("2024-01-02 03:04:05"),
        "dec": Decimal("1.25"),
        "set": {3, 1, 2},
        "frozen": frozenset({"b", "a"}),
        "tuple": (1, (2, 3)),
        "bytes": b"\x00\xffbinary",
        "na": pd.NA,
        "nat": pd.NaT,
    }
    back = loads(dumps(value))
    assert back["dt"] == "2024-01-02T03:04:05+00:00"
    assert back["date"] == "2024-01-02"
    assert back["ts"] == "2024-01-02T03:04:05"
    assert back["dec"] == 1.25
    assert back["set"] == [1, 2, 3]
    assert back["frozen"] == ["a", "b"]
    assert back["tuple"] == [1, [2, 3]]
    assert back["bytes"] == b"\x00\xffbinary"
    assert back["na"] is None and back["nat"] is None


def test_convertible_dict_keys() -> None:
    assert loads(dumps({1: "a", np.int64(2): "b", None: "c", False: "d", 2.5: "e"})) == {
        "1": "a",
        "2": "b",
        "null": "c",
        "false": "d",
        "2.5": "e",
    }


def test_dataframe_round_trips_as_a_dataframe() -> None:
    frame = pd.DataFrame(
        {
            "age": [31, 45, 27],
            "weight": [70.5, np.nan, 80.25],
            "name": ["a", "b", "c"],
            "when": pd.to_datetime(["2020-01-01", "2021-06-30", None]),
            "flag": [True, False, True],
            "kind": pd.Categorical(["x", "y", "x"]),
        },
        index=pd.Index([10, 20, 30], name="id"),
    )
    back = loads(dumps({"partial": frame}))["partial"]
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame)


def test_series_round_trips_as_a_series() -> None:
    series = pd.Series([1.5, np.nan, -np.inf], name="x", index=["a", "b", "c"])
    back = loads(dumps(series))
    assert isinstance(back, pd.Series)
    pd.testing.assert_series_equal(back, series)
    plain = pd.Series([1, 2, 3])
    pd.testing.assert_series_equal(loads(dumps(plain)), plain)


def test_empty_dataframe() -> None:
    back = loads(dumps(pd.DataFrame({"a": pd.Series([], dtype="int64")})))
    assert isinstance(back, pd.DataFrame)
    assert list(back.columns) == ["a"] and len(back) == 0 and back["a"].dtype == "int64"


class Model:
    pass


@pytest.mark.parametrize(
    ("value", "path", "kind"),
    [
        ({"model": [1, 2, Model()]}, "result['model'][2]", "Model"),
        ([lambda: 1], "result[0]", "function"),
        ({"c": 1 + 2j}, "result['c']", "complex"),
        ({"arr": np.array([1 + 1j])}, "result['arr']", "ndarray"),
        (object(), "result", "object"),
    ],
)
def test_unsupported_values_name_their_path(value: Any, path: str, kind: str) -> None:
    with pytest.raises(SerializationError) as info:
        dumps(value, root="result")
    message = str(info.value)
    assert message.startswith(f"{path}: object of type {kind}")
    assert "numpy or pandas" in message


def test_bad_dict_key_names_its_path() -> None:
    with pytest.raises(SerializationError, match=r"value\['outer'\]: dict key \(1, 2\)"):
        dumps({"outer": {(1, 2): "tuple key"}})


def test_cycles_are_reported() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(SerializationError, match="nested too deeply"):
        dumps(cyclic)


def test_lone_surrogates_are_reported() -> None:
    with pytest.raises(SerializationError, match="not valid Unicode"):
        dumps({"s": "\ud800"})


@pytest.mark.parametrize("bad", [b"{bad json", "", b"\xff\xfe", "[1, 2"])
def test_loads_invalid_input(bad: bytes | str) -> None:
    with pytest.raises(SerializationError):
        loads(bad)


def test_loads_rejects_non_text() -> None:
    with pytest.raises(SerializationError, match="bytes or str"):
        loads(12)  # type: ignore[arg-type]


def test_unknown_or_partial_tags_stay_plain_dicts() -> None:
    assert loads(b'{"__v6__": "mystery", "x": 1}') == {TAG: "mystery", "x": 1}
    assert loads(b'{"__v6__": "float", "value": "NaN", "extra": 1}') == {
        TAG: "float",
        "value": "NaN",
        "extra": 1,
    }


def test_malformed_known_tag_is_an_error() -> None:
    with pytest.raises(SerializationError, match="malformed 'float'"):
        loads(b'{"__v6__": "float", "value": "Big"}')


def test_big_numeric_payloads_use_the_fast_path() -> None:
    values = np.random.default_rng(1).random(200_000)
    encoded = dumps({"values": values})
    assert loads(encoded)["values"] == values.tolist()


def test_non_finite_values_inside_numpy_and_pandas_are_tagged_in_place() -> None:
    matrix = np.array([[1.0, np.nan], [np.inf, 2.0]])
    assert json.loads(dumps(matrix)) == [
        [1.0, {TAG: "float", "value": "NaN"}],
        [{TAG: "float", "value": "Infinity"}, 2.0],
    ]
    frame = pd.DataFrame({"f": [1.0, np.nan], "o": pd.Series(["a", np.nan], dtype=object)})
    rows = json.loads(dumps(frame))["data"]
    assert rows == [[1.0, "a"], [{TAG: "float", "value": "NaN"}, {TAG: "float", "value": "NaN"}]]
    pd.testing.assert_frame_equal(loads(dumps(frame)), frame)


def test_sets_of_mixed_types_are_deterministic() -> None:
    assert dumps({1, "a", 2.5}) == dumps({2.5, "a", 1}) == b'[2.5,1,"a"]'


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(min_value=-(2**62), max_value=2**62),
            st.text(max_size=5),
            st.booleans(),
        ),
        max_size=20,
    )
)
def test_dataframes_round_trip(rows: list[tuple[float, int, str, bool]]) -> None:
    frame = pd.DataFrame(
        {
            "f": pd.Series([r[0] for r in rows], dtype="float64"),
            "i": pd.Series([r[1] for r in rows], dtype="int64"),
            "s": pd.Series([r[2] for r in rows], dtype=object),
            "b": pd.Series([r[3] for r in rows], dtype="bool"),
        }
    )
    pd.testing.assert_frame_equal(loads(dumps(frame)), frame)
    pd.testing.assert_series_equal(loads(dumps(frame["f"])), frame["f"])
