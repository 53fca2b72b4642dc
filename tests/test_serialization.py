"""The JSON codec: every value comes back exactly (type included) or is refused with its path.

Plain JSON stays plain; NaN and infinities, bytes, tuples, sets, dicts with other keys,
Decimals, dates, NumPy scalars and arrays, and pandas frames (through Arrow) are tagged
and come back equal and of the same type. Property tests draw frames of every supported
dtype with MultiIndex rows and columns, names and missing values, and nested values
holding them.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import enum
import json
import math
import zoneinfo
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.exact_values import assert_identical, assert_same_pandas, frames, indexes, names, series
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
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


def round_trip(value: Any) -> Any:
    return loads(dumps(value, root="result"))


# ------------------------------------------------------------------------------ plain JSON
@settings(max_examples=200, deadline=None)
@given(json_values)
def test_json_values_round_trip_losslessly(value: Any) -> None:
    encoded = dumps(value)
    assert isinstance(encoded, bytes)
    assert_identical(loads(encoded), value)
    assert dumps(value) == encoded  # deterministic


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_output_is_standard_json(value: Any) -> None:
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard constant {constant} in output")

    json.loads(dumps(value), parse_constant=refuse)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text()
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=8).filter(lambda k: k != TAG),
                                      children, max_size=4),
                    max_leaves=20))
def test_plain_values_stay_plain_json(value: Any) -> None:
    assert json.loads(dumps(value)) == value  # no tags: any JSON reader sees the value


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


# ------------------------------------------------------------------------------ Python values
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
PYTHON_VALUES = {
    "tuple": (1, (2, "x"), ()),
    "set": {3, 1, 2},
    "frozenset": frozenset({"b", "a"}),
    "int keys": {1: "a", 2: "b"},
    "mixed keys": {None: 1, False: 2, 2.5: 3, (1, "a"): 4, "s": 5},
    "tag key": {TAG: "float", "value": "NaN"},
    "bytes": b"\x00\xffbinary",
    "decimal": Decimal("1.250"),
    "decimal nan": Decimal("NaN"),
    "naive": dt.datetime(2024, 1, 2, 3, 4, 5, 678901),
    "utc": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    "offset": dt.datetime(2024, 1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    "zone": dt.datetime(2024, 7, 2, 3, tzinfo=AMSTERDAM),
    "fold": dt.datetime(2024, 10, 27, 2, 30, tzinfo=AMSTERDAM, fold=1),
    "date": dt.date(2024, 1, 2),
    "time": dt.time(3, 4, 5, 6),
    "timedelta": dt.timedelta(days=-1, seconds=5, microseconds=7),
    "timestamp": pd.Timestamp("2024-01-02 03:04:05.000000001"),
    "timestamp s": pd.Timestamp("2024-01-02 03:04:05").as_unit("s"),
    "timestamp tz": pd.Timestamp("2024-01-02 03:04:05", tz="Europe/Amsterdam"),
    "pd timedelta": pd.Timedelta(1, unit="ns"),
    "na": pd.NA,
    "nat": pd.NaT,
}


@pytest.mark.parametrize("name", PYTHON_VALUES)
def test_python_and_pandas_scalars_come_back_exactly(name: str) -> None:
    value = PYTHON_VALUES[name]
    back = round_trip({"v": value})["v"]
    assert_identical(back, value)
    if value is pd.NaT:
        return
    if isinstance(value, dt.datetime | pd.Timestamp):
        assert str(back) == str(value) and back.utcoffset() == value.utcoffset()
        assert getattr(back, "fold", 0) == getattr(value, "fold", 0)
    if isinstance(value, pd.Timestamp | pd.Timedelta):
        assert back.unit == value.unit


def test_sets_are_written_in_a_stable_order() -> None:
    assert dumps({1, "a", 2.5}) == dumps({2.5, "a", 1})
    assert json.loads(dumps({3, 1, 2})) == {TAG: "set", "items": [1, 2, 3]}


def test_a_dict_with_the_tag_key_is_escaped() -> None:
    value = {TAG: "dataframe", "columns": [], "data": []}
    assert_identical(round_trip(value), value)
    assert json.loads(dumps(value))[TAG] == "dict"


# ------------------------------------------------------------------------------ numpy
SCALARS = [np.bool_(True), np.int8(-3), np.int16(300), np.int32(7), np.int64(-(2**63)),
           np.uint8(255), np.uint16(7), np.uint32(2**32 - 1), np.uint64(2**64 - 1),
           np.float16(1.5), np.float32(0.1), np.float64(-0.0), np.float32("nan"),
           np.float64("inf"), np.datetime64("2024-03-01T12:00:00"),
           np.datetime64("2024-03-01T12:00:00.123456789"), np.datetime64("NaT", "ms"),
           np.timedelta64(5, "s"), np.timedelta64("NaT"), np.complex64(1 + 2j),
           np.longdouble("0.1"), np.str_("x"), np.bytes_(b"y")]


@pytest.mark.parametrize("value", SCALARS, ids=lambda v: f"{v.dtype}-{v!s}")
def test_numpy_scalars_keep_their_type(value: np.generic) -> None:
    assert_identical(round_trip([value])[0], value)


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(hnp.scalar_dtypes() | hnp.byte_string_dtypes() | hnp.unicode_string_dtypes(),
                  hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)),
       st.booleans())
def test_numpy_arrays_keep_dtype_shape_and_bits(array: np.ndarray[Any, Any],
                                                fortran: bool) -> None:
    if fortran:
        array = np.asfortranarray(array)
    back = round_trip({"a": array})["a"]
    assert_identical(back, array)
    assert back.flags.f_contiguous == array.flags.f_contiguous
    back[...] = array  # writable


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(hnp.scalar_dtypes(), ()).map(lambda a: a[()]))
def test_generated_numpy_scalars_keep_type_and_bits(value: np.generic) -> None:
    assert_identical(round_trip(value), value)


def test_a_float32_matrix_is_a_float32_matrix() -> None:
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3) / 3
    back = round_trip({"m": matrix})["m"]
    assert back.dtype == np.float32 and back.shape == (2, 3)
    assert np.array_equal(back, matrix)


# ------------------------------------------------------------------------------ pandas
@pytest.fixture
def visits() -> pd.DataFrame:
    return pd.DataFrame({
        "sex": pd.Series(["F", "M", "F", "M", "F"], dtype=object),
        "site": [2, 1, 1, 2, 2],
        "bmi": [21.5, 30.25, np.nan, 24.0, 19.5],
        "smoker": pd.array([True, None, False, False, True], dtype="boolean"),
    })


def test_statistics_come_back_exactly(visits: pd.DataFrame) -> None:
    grouped = visits.groupby(["sex", "site"])
    values = {
        "size": grouped.size(),
        "agg": grouped.agg({"bmi": ["mean", "count"]}),
        "unsorted": visits.groupby(["site", "sex"], sort=False).size(),
        "crosstab": pd.crosstab(visits["sex"], visits["site"]),
        "categories": pd.crosstab(visits["sex"].astype("category"),
                                  visits["smoker"], dropna=False),
        "described": visits.describe(),
        "bands": pd.crosstab(pd.cut(visits["bmi"], [0, 25, 30, 50]), visits["sex"]),
        "counts": visits["sex"].value_counts(),
    }
    back = round_trip(values)
    for name, sent in values.items():
        assert_same_pandas(back[name], sent)
    assert back["crosstab"].index.name == "sex" and back["crosstab"].columns.name == "site"
    assert back["agg"].columns.tolist() == [("bmi", "mean"), ("bmi", "count")]
    repr(back["agg"])  # list labels made repr() raise before
    pd.testing.assert_frame_equal(back["unsorted"].unstack(), values["unsorted"].unstack())


@pytest.mark.parametrize("dtype", ["object", "str", "string[python]", "string[pyarrow]"])
def test_each_string_dtype_stays_itself(dtype: str) -> None:
    strings = pd.Series(["a", None, "c"], dtype=dtype if dtype != "str" else
                        pd.StringDtype("pyarrow", np.nan), name="s")
    back = round_trip(strings)
    assert back.dtype == strings.dtype
    assert_same_pandas(back, strings)


def test_arrow_backed_columns_of_several_chunks_travel_as_one() -> None:
    # pd.concat keeps each part's Arrow chunk: pandas 3's default strings after a concat
    parts = [pd.DataFrame({"sex": pd.Series(values, dtype=dtype),
                           "n": pd.Series([1, 2], dtype=pd.ArrowDtype(pa.int64())),
                           "kind": pd.Series(["x", "y"], dtype=pd.ArrowDtype(
                               pa.dictionary(pa.int8(), pa.string())))},
                          index=pd.Index([0, 1]))
             for values, dtype in ((["F", "M"], "str"), (["M", None], "str"))]
    stacked = pd.concat(parts, keys=[2, 3], names=["organization", "row"])
    assert stacked["sex"].array._pa_array.num_chunks == 2  # what made the encoder fail
    back = round_trip(stacked)
    assert_same_pandas(back, stacked)
    assert back["sex"].dtype == stacked["sex"].dtype


def test_object_columns_keep_their_missing_marker() -> None:
    frame = pd.DataFrame({"none": pd.Series(["a", None], dtype=object),
                          "nan": pd.Series(["a", np.nan], dtype=object),
                          "na": pd.Series([1, pd.NA], dtype=object)})
    back = round_trip(frame)
    assert back["none"][1] is None and isinstance(back["nan"][1], float)
    assert back["na"][1] is pd.NA
    assert_same_pandas(back, frame)


def test_time_zones_units_and_frequencies() -> None:
    frame = pd.DataFrame(
        {"when": pd.date_range("2024-03-30", periods=3, freq="D", tz="Europe/Amsterdam"),
         "seconds": pd.Series(pd.to_timedelta([1, None, 3], unit="s")).astype("m8[s]")},
        index=pd.date_range("2024-01-01", periods=3, freq="h", name="at"))
    back = round_trip(frame)
    assert_same_pandas(back, frame)
    assert back.index.freq == frame.index.freq


@settings(max_examples=300, deadline=None)
@given(frames())
def test_generated_frames_round_trip_exactly(frame: pd.DataFrame) -> None:
    assert_same_pandas(round_trip(frame), frame)


@settings(max_examples=200, deadline=None)
@given(series())
def test_generated_series_round_trip_exactly(values: pd.Series) -> None:
    assert_same_pandas(round_trip(values), values)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 5).flatmap(indexes))
def test_generated_indexes_round_trip_exactly(index: pd.Index) -> None:
    assert_same_pandas(round_trip(index), index)


leaves = (json_scalars | frames() | series() | names
          | hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=2))
          | hnp.arrays(hnp.scalar_dtypes(), ()).map(lambda a: a[()]))
nested = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=3) | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=4) | st.integers(), children, max_size=3),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(nested)
def test_nested_values_round_trip_exactly(value: Any) -> None:
    assert_identical(round_trip({"result": value})["result"], value)


def test_attrs_and_flags_travel_with_the_frame(visits: pd.DataFrame) -> None:
    visits.attrs = {"source": "registry", "version": (2, 1)}
    strict = visits.set_flags(allows_duplicate_labels=False)
    back = round_trip({"frame": strict, "column": visits["bmi"]})
    assert back["frame"].attrs == {"source": "registry", "version": (2, 1)}
    assert back["frame"].flags.allows_duplicate_labels is False
    assert back["column"].attrs == visits["bmi"].attrs
    assert_same_pandas(back["frame"], strict)


def test_decoded_frames_and_arrays_are_writable(visits: pd.DataFrame) -> None:
    back = round_trip({"frame": visits, "array": np.arange(3)})
    back["frame"].loc[0, "bmi"] = 1.0
    back["frame"].iloc[0, 1] = 9
    back["array"][0] = 5


def test_the_arrow_payload_is_a_plain_arrow_stream(visits: pd.DataFrame) -> None:
    document = json.loads(dumps({"counts": visits.groupby(["sex", "site"]).size()}))
    assert document["counts"][TAG] == "pandas.Series"
    table = pa.ipc.open_stream(base64.b64decode(document["counts"]["arrow"])).read_all()
    assert table.column_names == ["values", "sex", "site"]
    assert table.column("values").to_pylist() == [1, 2, 1, 1]
    seen = table.to_pandas()  # pyarrow's own reader, from the pandas metadata
    assert list(seen.index.names) == ["sex", "site"]
    assert seen["values"].tolist() == [1, 2, 1, 1]


def test_big_frames_are_binary_not_rows() -> None:
    frame = pd.DataFrame({"x": np.arange(100_000, dtype=np.int32)})
    encoded = dumps(frame)
    assert len(encoded) < 100_000 * 4 * 4 / 3 + 4_000
    assert_same_pandas(loads(encoded), frame)


# ------------------------------------------------------------------------------ the old format
LEGACY_FRAME = (
    b'{"partial":{"__v6__":"dataframe","columns":["age","weight","name"],'
    b'"dtypes":["int64","float64","object"],"data":[[31,70.5,"a"],'
    b'[45,{"__v6__":"float","value":"NaN"},"b"]],"index":[10,20],"index_dtype":"int64",'
    b'"index_name":"id"}}')
LEGACY_SERIES = (
    b'{"__v6__":"series","name":"x","dtype":"float64","data":[1.5,'
    b'{"__v6__":"float","value":"NaN"}],"index":["a","b"],"index_dtype":"object"}')


def test_results_stored_in_the_old_row_format_still_open() -> None:
    frame = loads(LEGACY_FRAME)["partial"]
    assert frame.index.tolist() == [10, 20] and frame.index.name == "id"
    assert frame["age"].tolist() == [31, 45] and frame["age"].dtype == np.int64
    assert frame["weight"].iloc[0] == 70.5 and math.isnan(frame["weight"].iloc[1])
    assert frame["name"].tolist() == ["a", "b"]
    series_ = loads(LEGACY_SERIES)
    assert series_.name == "x" and series_.index.tolist() == ["a", "b"]
    assert series_.iloc[0] == 1.5 and math.isnan(series_.iloc[1])


def test_nothing_writes_the_old_tags(visits: pd.DataFrame) -> None:
    text = dumps({"f": visits, "s": visits["bmi"]}).decode()
    assert '"dataframe"' not in text and '"series"' not in text


# ------------------------------------------------------------------------------ refusals
class Model:
    pass


class Colour(enum.IntEnum):
    RED = 1


class Units(np.ndarray):
    """An array subclass (its extra state would be lost)."""


@pytest.mark.parametrize(
    ("value", "path", "kind"),
    [
        ({"model": [1, 2, Model()]}, "result['model'][2]", "Model"),
        ([lambda: 1], "result[0]", "function"),
        ({"c": 1 + 2j}, "result['c']", "complex"),
        ((1, {"x": object()}), "result[1]['x']", "object"),
        (object(), "result", "object"),
    ],
)
def test_unsupported_values_name_their_path(value: Any, path: str, kind: str) -> None:
    with pytest.raises(SerializationError) as info:
        dumps(value, root="result")
    message = str(info.value)
    assert message.startswith(f"{path}: object of type {kind}")
    assert "numpy or pandas" in message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"counts": collections.Counter("aab")},
         r"result\['counts'\]: object of type Counter \(a subclass of dict\)"),
        ({"pair": collections.namedtuple("Pair", "a b")(1, 2)},
         r"result\['pair'\]: object of type Pair \(a subclass of tuple\)"),
        ({"colour": Colour.RED}, r"result\['colour'\]: object of type Colour \(a subclass of int"),
        ({"arr": np.array([1, "a"], dtype=object)},
         r"result\['arr'\]: a numpy array of dtype object"),
        ({"m": np.ma.masked_array([1, 2], mask=[0, 1])},
         r"result\['m'\]: object of type MaskedArray"),
        ({"m": np.arange(2).view(Units)},
         r"result\['m'\]: object of type Units \(a subclass of ndarray\)"),
        ({"tz": dt.UTC}, r"result\['tz'\]: object of type timezone cannot be serialized"),
        ({"when": dt.datetime(2024, 1, 1, tzinfo=type("Odd", (dt.tzinfo,), {
            "utcoffset": lambda self, d: None if d is None else dt.timedelta(0)})())},
         r"result\['when'\]: the time zone .* has no IANA name"),
        ({"period": pd.Period("2024-01")}, r"result\['period'\]: object of type Period"),
    ],
)
def test_values_that_would_change_are_refused(value: Any, message: str) -> None:
    with pytest.raises(SerializationError, match=message):
        dumps(value, root="result")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"z": [1 + 2j]}), r"column 'z' \(position 0\) has dtype complex128"),
        (pd.DataFrame({"p": pd.period_range("2024-01", periods=2, freq="M")}),
         r"column 'p' \(position 0\) has dtype period"),
        (pd.DataFrame({"mix": pd.Series([1, "a"], dtype=object)}),
         r"column 'mix' \(position 0\) is an object column holding mixed-integer values"),
        (pd.DataFrame({"m": pd.Series(["a", None, np.nan], dtype=object)}),
         r"column 'm' \(position 0\) mixes the missing-value markers NaN and None"),
        (pd.DataFrame({"x": [1]}, index=pd.period_range("2024", periods=1, freq="Y")),
         r"the row index is a PeriodIndex"),
        (pd.DataFrame({"s": ["\ud800"]}, dtype=object), r"column 's' \(position 0\)"),
    ],
)
def test_frames_that_would_change_are_refused_at_the_sender(frame: pd.DataFrame,
                                                            message: str) -> None:
    with pytest.raises(SerializationError, match=r"result\['model'\]\[2\]: " + message):
        dumps({"model": [0, 1, frame]}, root="result")


def test_an_unsupported_name_is_refused() -> None:
    with pytest.raises(SerializationError, match=r"result: the Series name.*Model"):
        dumps(pd.Series([1], name=Model()), root="result")


def test_bad_dict_key_names_its_path() -> None:
    with pytest.raises(SerializationError,
                       match=r"value\['outer'\]: dict key <.*Model.*> cannot be carried"):
        dumps({"outer": {Model(): "object key"}})


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


@pytest.mark.parametrize("document", [
    b'{"__v6__": "float", "value": "Big"}',
    b'{"__v6__": "pandas.DataFrame", "arrow": "bm90IGFycm93"}',
    b'{"__v6__": "numpy.ndarray", "npy": "!!"}',
    b'{"__v6__": "numpy.scalar", "dtype": "<i4", "value": [1, 2]}',
    b'{"__v6__": "dict", "items": [[1]]}',
])
def test_malformed_known_tag_is_an_error(document: bytes) -> None:
    tag = json.loads(document)[TAG]
    with pytest.raises(SerializationError, match=f"malformed '{tag}'"):
        loads(document)
