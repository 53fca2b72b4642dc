"""Hypothesis strategies for pandas values the codec must carry exactly, and the checks
that a value came back identical (shared by the codec tests and the parity tests).

Frames get columns of every supported dtype (NumPy, object strings with ``None`` or
``NaN`` for missing, ``StringDtype`` in each storage and missing value, nullable dtypes,
categoricals, time-zone-aware datetimes, timedeltas, intervals), with missing values, and row and
column indexes that are ranges, flat, or MultiIndexes with unsorted and unused levels,
all with names of several types.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["DTYPES", "assert_identical", "assert_same_pandas", "columns", "frames", "indexes",
           "names", "series"]

NUMPY = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "float16", "float32", "float64", "bool"]
TEMPORAL = ["datetime64[s]", "datetime64[ms]", "datetime64[us]", "datetime64[ns]",
            "timedelta64[s]", "timedelta64[ns]"]
ZONES = ["UTC", "Europe/Amsterdam", "America/New_York",
         dt.timezone(dt.timedelta(hours=5, minutes=30))]
OTHER = ["object", "object-nan", "str", "string[python]", "string[pyarrow]", "Int8", "Int64",
         "UInt32", "Float32", "Float64", "boolean", "category", "category-int", "datetime-tz",
         "interval"]
DTYPES = NUMPY + TEMPORAL + OTHER
#: what a flat index may hold (pandas has no float16 index)
INDEX_DTYPES = [d for d in DTYPES if d != "float16"]

texts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=6)
names = st.none() | texts | st.integers(-5, 5) | st.tuples(texts, st.integers(0, 3))


def _nullable(values: st.SearchStrategy[Any], n: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.none() | values, min_size=n, max_size=n)


@st.composite
def _values(draw: st.DrawFn, dtype: str, n: int) -> Any:
    """An array-like of ``n`` values of ``dtype`` (one of :data:`DTYPES`)."""
    if dtype in NUMPY:
        return draw(hnp.arrays(np.dtype(dtype), n))
    if dtype in TEMPORAL:
        counts = draw(hnp.arrays(np.int64, n, elements=st.integers(-(2**40), 2**40)))
        values = counts.view(dtype).copy()
        values[draw(hnp.arrays(bool, n))] = np.datetime64("NaT") if dtype[0] == "d" \
            else np.timedelta64("NaT")
        return values
    if dtype in ("object", "object-nan"):
        missing = None if dtype == "object" else np.nan
        items = [missing if v is None else v for v in draw(_nullable(texts, n))]
        return pd.Series(items, dtype=object)
    if dtype == "str":
        return pd.array(draw(_nullable(texts, n)), dtype=pd.StringDtype("pyarrow", np.nan))
    if dtype.startswith("string"):
        return pd.array(draw(_nullable(texts, n)), dtype=dtype)
    if dtype in ("Int8", "Int64", "UInt32"):
        info = np.iinfo(dtype.lower())
        return pd.array(draw(_nullable(st.integers(int(info.min), int(info.max)), n)),
                        dtype=dtype)
    if dtype in ("Float32", "Float64"):
        width = 32 if dtype == "Float32" else 64
        data = draw(hnp.arrays(np.dtype(dtype.lower()), n,
                               elements=st.floats(width=width)))  # NaN as a value, not NA
        return pd.arrays.FloatingArray(data, draw(hnp.arrays(bool, n)))
    if dtype == "boolean":
        return pd.array(draw(_nullable(st.booleans(), n)), dtype="boolean")
    if dtype.startswith("category"):
        return draw(_categorical(dtype, n))
    if dtype == "interval":
        return draw(_intervals(n))
    return draw(_aware(n))


@st.composite
def _intervals(draw: st.DrawFn, n: int) -> pd.arrays.IntervalArray:
    """Intervals as ``pandas.cut`` makes them, some missing."""
    left = draw(hnp.arrays(np.float64, n, elements=st.floats(-1e6, 1e6)))
    right = left + draw(hnp.arrays(np.float64, n, elements=st.floats(0, 1e3)))
    missing = draw(hnp.arrays(bool, n))
    left[missing] = right[missing] = np.nan
    return pd.arrays.IntervalArray.from_arrays(
        left, right, closed=draw(st.sampled_from(["left", "right", "both", "neither"])))


@st.composite
def _categorical(draw: st.DrawFn, dtype: str, n: int) -> pd.Categorical:
    element = st.integers(-100, 100) if dtype == "category-int" else texts
    categories = draw(st.lists(element, unique=True, max_size=5))
    codes = draw(st.lists(st.integers(-1, len(categories) - 1), min_size=n, max_size=n))
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(
        categories, ordered=draw(st.booleans())))


@st.composite
def _aware(draw: st.DrawFn, n: int) -> Any:
    unit = draw(st.sampled_from(["s", "us", "ns"]))
    counts = draw(hnp.arrays(np.int64, n, elements=st.integers(-(2**40), 2**40)))
    naive = pd.Series(counts.view(f"datetime64[{unit}]"))
    naive[draw(hnp.arrays(bool, n))] = pd.NaT
    return naive.dt.tz_localize("UTC").dt.tz_convert(draw(st.sampled_from(ZONES))).array


@st.composite
def series(draw: st.DrawFn, n: int | None = None, dtype: str | None = None) -> pd.Series:
    """A Series of a drawn dtype, index and name."""
    n = draw(st.integers(0, 6)) if n is None else n
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    values = draw(_values(dtype, n))
    index = draw(indexes(n))
    if isinstance(values, pd.Series):
        values = values.array
    return pd.Series(values, index=index, name=draw(names), copy=False)


@st.composite
def indexes(draw: st.DrawFn, n: int) -> pd.Index:
    """A row index of length ``n``: a range, a flat index or a MultiIndex."""
    kind = draw(st.sampled_from(["range", "flat", "multi"]))
    if kind == "range":
        start, step = draw(st.integers(-10, 10)), draw(st.sampled_from([1, 2, -3]))
        return pd.RangeIndex(start, start + n * step, step, name=draw(names))
    if kind == "flat":
        dtype = draw(st.sampled_from(INDEX_DTYPES))
        values = draw(_values(dtype, n))
        return pd.Index(values, dtype=getattr(values, "dtype", None), name=draw(names))
    return draw(_multi(n, draw(st.integers(1, 3))))


@st.composite
def _multi(draw: st.DrawFn, n: int, levels: int) -> pd.MultiIndex:
    """A MultiIndex with unsorted, partly unused levels and missing codes."""
    built, codes = [], []
    for _ in range(levels):
        kind = draw(st.sampled_from(["object", "str", "int", "category"]))
        values = draw(st.lists(st.integers(-9, 9) if kind == "int" else texts,
                               unique=True, min_size=1, max_size=4))
        if kind == "category":  # categories in another order, one of them unused
            level = pd.CategoricalIndex(values, categories=[*reversed(values), "zz-unused"])
        else:
            level = pd.Index(values, dtype={"object": object, "int": np.int64}.get(
                kind, pd.StringDtype("pyarrow", np.nan)))
        built.append(level)
        codes.append(draw(st.lists(st.integers(-1, len(values) - 1), min_size=n, max_size=n)))
    return pd.MultiIndex(levels=built, codes=codes,
                         names=draw(st.lists(names, min_size=levels, max_size=levels)))


@st.composite
def columns(draw: st.DrawFn, width: int) -> pd.Index:
    """Column labels: strings, integers (a crosstab's), or tuples (a MultiIndex)."""
    kind = draw(st.sampled_from(["range", "text", "int", "multi"]))
    if kind == "range":
        return pd.RangeIndex(width)
    if kind == "multi":
        first = draw(st.lists(texts, min_size=width, max_size=width))
        second = draw(st.lists(st.sampled_from(["mean", "count", "sum"]), min_size=width,
                               max_size=width))
        labels = pd.MultiIndex.from_arrays([first, second],
                                           names=draw(st.lists(names, min_size=2, max_size=2)))
        return labels
    element = texts if kind == "text" else st.integers(-9, 9)
    labels = draw(st.lists(element, min_size=width, max_size=width))
    return pd.Index(labels, name=draw(names))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """A DataFrame of drawn dtypes, row index and column labels."""
    n, width = draw(st.integers(0, 6)), draw(st.integers(0, 5))
    data = {i: draw(_values(draw(st.sampled_from(DTYPES)), n)) for i in range(width)}
    frame = pd.DataFrame({i: pd.Series(v, copy=False) if not isinstance(v, pd.Series)
                          else v for i, v in data.items()}, index=pd.RangeIndex(n))
    frame.index = draw(indexes(n))
    frame.columns = draw(columns(width))
    return frame


# ------------------------------------------------------------------------------ checks
def assert_identical(got: Any, want: Any, path: str = "value") -> None:
    """``got`` equals ``want`` and has its type, recursively: containers in the same
    order with keys of the same types, floats bit for bit (NaN equal to NaN), NumPy
    values with the same dtype, shape and bytes, pandas values by :func:`assert_same_pandas`."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} is not {type(want).__name__}"
    if got is want:
        return
    if isinstance(want, float):
        assert (math.isnan(got) and math.isnan(want)) or (got == want and str(got) == str(want)), \
            f"{path}: {got!r} != {want!r}"
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), f"{path}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_identical(g, w, f"{path}[{i}]")
    elif isinstance(want, dict):
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        assert [type(k) for k in got] == [type(k) for k in want], f"{path}: key types"
        for key in want:
            assert_identical(got[key], want[key], f"{path}[{key!r}]")
    elif isinstance(want, np.ndarray | np.generic):
        assert got.dtype == want.dtype and np.shape(got) == np.shape(want), path
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), f"{path}: values"
    elif isinstance(want, pd.DataFrame | pd.Series | pd.Index):
        assert_same_pandas(got, want)
    elif isinstance(want, Decimal):
        assert str(got) == str(want), f"{path}: {got!r} != {want!r}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def assert_same_pandas(back: Any, sent: Any) -> None:
    """``back`` is ``sent``: values, dtypes, index and column types, levels, names, and
    which missing-value object each ``object`` cell holds."""
    assert type(back) is type(sent)
    if isinstance(sent, pd.Index):
        _same_index(back, sent)
        return
    if isinstance(sent, pd.DataFrame):
        pd.testing.assert_frame_equal(back, sent, check_exact=True, check_freq=True,
                                      check_flags=True, check_index_type=True,
                                      check_column_type=True, check_names=True)
        _same_index(back.columns, sent.columns)
        columns_ = [(back.iloc[:, i], sent.iloc[:, i]) for i in range(sent.shape[1])]
    else:
        pd.testing.assert_series_equal(back, sent, check_exact=True, check_freq=True,
                                       check_index_type=True, check_names=True)
        assert back.name == sent.name and type(back.name) is type(sent.name)
        columns_ = [(back, sent)]
    _same_index(back.index, sent.index)
    for got, want in columns_:
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        if want.dtype == object:
            assert [type(v) for v in got] == [type(v) for v in want]


def _same_index(back: pd.Index, sent: pd.Index) -> None:
    pd.testing.assert_index_equal(back, sent, exact=True, check_exact=True,
                                  check_categorical=True)
    assert type(back) is type(sent)
    assert list(back.names) == list(sent.names)
    assert [type(n) for n in back.names] == [type(n) for n in sent.names]
    if isinstance(sent, pd.MultiIndex):
        for got, want in zip(back.levels, sent.levels, strict=True):
            pd.testing.assert_index_equal(got, want, exact=True)  # order and unused kept
        for got, want in zip(back.codes, sent.codes, strict=True):
            assert np.array_equal(got, want)
    else:
        assert back.dtype == sent.dtype
