"""One pandas column or index level as an Arrow array and back, with its dtype exactly.

Why a descriptor beside the Arrow type: Arrow has one ``string`` type where pandas has
``object`` columns of ``str``, ``StringDtype("python")``, ``StringDtype("pyarrow")`` and
the ``str`` dtype of pandas 3, and one null where an ``object`` column may hold ``None``
or ``NaN``. pyarrow's own ``to_pandas`` picks one of them, and which one depends on the
pandas version of the reader. So every array travels with a small JSON descriptor that
names its pandas dtype, and the reader rebuilds exactly that dtype.

Descriptors (JSON objects, one key says which kind):

* ``{"numpy": "<i4"}``: a NumPy dtype (bool, int8..uint64, float16..float64,
  datetime64/timedelta64 in s, ms, us or ns); NaN stays NaN, NaT is an Arrow null.
* ``{"datetime": "us", "tz": "Europe/Amsterdam"}``: a time-zone-aware datetime column.
* ``{"object": "string", "missing": "None"}``: an ``object`` column whose values are all
  ``str`` (or ``bytes``, ``integer``, ``floating``, ``boolean``: pandas' ``infer_dtype``
  name, ``empty`` when every value is missing); ``missing`` names the one missing-value
  marker used (``None``, ``NaN``, ``NA`` or ``NaT``), or is ``null`` when none is.
* ``{"string": "python", "na": "NA"}``: a ``StringDtype`` with its storage and missing value.
* ``{"masked": "Int64"}``: a nullable integer, float or boolean dtype.
* ``{"arrow": "int64[pyarrow]"}``: a ``pandas.ArrowDtype`` (the Arrow type is the field's).
* ``{"category": <descriptor of the categories>, "ordered": false}``: a categorical, as an
  Arrow dictionary whose dictionary is the categories (unused ones included).
* ``{"interval": <descriptor of the bounds>, "closed": "right"}``: intervals (what
  ``pandas.cut`` makes), as an Arrow struct of ``left`` and ``right``.

Anything else raises :class:`Unsupported` with the reason; nothing is converted loosely.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from v6lib.serialization.codec import Unsupported

__all__ = ["from_arrow", "to_arrow"]

Descriptor = dict[str, Any]

_UNITS = frozenset({"s", "ms", "us", "ns"})
_MASKED = frozenset({"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
                     "Float32", "Float64", "boolean"})
_OBJECT_KINDS = frozenset({"string", "bytes", "integer", "floating", "boolean", "empty"})
#: the missing-value markers an ``object`` column may use, by the name that travels
_MARKERS: dict[str, Any] = {"None": None, "NaN": np.nan, "NA": pd.NA, "NaT": pd.NaT}
_HINT = ("convert it to a supported dtype (numbers, bool, str, nullable, categorical, "
         "datetime)")


# ------------------------------------------------------------------------------ encode
def to_arrow(values: pd.Series | pd.Index, what: str) -> tuple[pa.Array, Descriptor]:
    """``values`` (a column or a flat index) as an Arrow array and its descriptor.

    ``what`` names the values in the reason of an :class:`Unsupported` error, e.g.
    ``"column 'age'"``.
    """
    dtype = values.dtype
    try:
        if isinstance(dtype, np.dtype):
            return _numpy(values, dtype, what)
        if isinstance(dtype, pd.CategoricalDtype):
            return _categorical(values, dtype, what)
        if isinstance(dtype, pd.DatetimeTZDtype):
            return _datetime_tz(values, dtype, what)
        if isinstance(dtype, pd.IntervalDtype):
            return _interval(values, dtype, what)
        if isinstance(dtype, pd.StringDtype):
            return _one_array(values), {"string": _storage(dtype), "na": _na_name(dtype)}
        if dtype.name in _MASKED:
            return _one_array(values), {"masked": dtype.name}
        if isinstance(dtype, pd.ArrowDtype):
            return _one_array(values), {"arrow": str(dtype)}
    except Unsupported:
        raise
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
        raise Unsupported(f"{what} of dtype {dtype} cannot be converted to Arrow: {exc}") \
            from None
    raise Unsupported(f"{what} has dtype {dtype}, which cannot be carried exactly; {_HINT}")


def _one_array(values: pd.Series | pd.Index) -> pa.Array:
    """The values of an extension array as one Arrow array: an Arrow-backed column made by
    ``pd.concat`` (pandas 3's default strings among them) holds several chunks, and a
    record batch takes one array per field."""
    array = pa.array(values.array)
    if isinstance(array, pa.ChunkedArray):
        return array.unify_dictionaries().combine_chunks()
    return array


def _numpy(values: Any, dtype: np.dtype[Any], what: str) -> tuple[pa.Array, Descriptor]:
    kind = dtype.kind
    if kind == "O":
        return _object(values, what)
    array = values.to_numpy()
    if kind in "biu" or (kind == "f" and dtype.itemsize <= 8):
        return pa.array(array), {"numpy": dtype.str}  # NaN stays NaN, bit for bit
    if kind in "mM" and np.datetime_data(dtype)[0] in _UNITS:
        return pa.array(array, from_pandas=True), {"numpy": dtype.str}  # NaT -> null
    raise Unsupported(f"{what} has dtype {dtype}, which cannot be carried exactly; {_HINT}")


def _object(values: Any, what: str) -> tuple[pa.Array, Descriptor]:
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred not in _OBJECT_KINDS:
        raise Unsupported(f"{what} is an object column holding {inferred} values, which "
                          f"cannot be carried exactly; {_HINT}")
    array = values.to_numpy()
    missing = pd.isna(array)
    marker = _marker(array[missing], what) if missing.any() else None
    return pa.array(array, from_pandas=True), {"object": inferred, "missing": marker}


def _marker(missing: Any, what: str) -> str:
    """The name of the one missing-value marker among ``missing`` (else Unsupported)."""
    names = set()
    for value in missing:
        if value is None:
            names.add("None")
        elif value is pd.NA:
            names.add("NA")
        elif value is pd.NaT:
            names.add("NaT")
        elif isinstance(value, float):
            names.add("NaN")
        else:
            raise Unsupported(f"{what} holds the missing value {value!r} of type "
                              f"{type(value).__name__}, which cannot be carried exactly")
        if len(names) > 1:
            raise Unsupported(f"{what} mixes the missing-value markers "
                              f"{' and '.join(sorted(names))}; use one of them")
    return names.pop()


def _categorical(values: Any, dtype: pd.CategoricalDtype, what: str
                 ) -> tuple[pa.Array, Descriptor]:
    dictionary, categories = to_arrow(dtype.categories, f"the categories of {what}")
    if pa.types.is_dictionary(dictionary.type):
        raise Unsupported(f"{what} has categorical categories, which cannot be carried")
    codes = np.asarray(values.cat.codes if isinstance(values, pd.Series) else values.codes)
    indices = pa.array(codes, mask=codes < 0)
    array = pa.DictionaryArray.from_arrays(indices, dictionary, ordered=bool(dtype.ordered))
    return array, {"category": categories, "ordered": bool(dtype.ordered)}


def _datetime_tz(values: Any, dtype: pd.DatetimeTZDtype, what: str
                 ) -> tuple[pa.Array, Descriptor]:
    array = pa.array(values.array)
    tz = array.type.tz
    if pd.DatetimeTZDtype(dtype.unit, tz) != dtype:
        raise Unsupported(f"{what} has the time zone {dtype.tz!r}, which cannot be carried "
                          "exactly; use an IANA name (zoneinfo) or a fixed offset")
    return array, {"datetime": dtype.unit, "tz": tz}


def _interval(values: Any, dtype: pd.IntervalDtype, what: str
              ) -> tuple[pa.Array, Descriptor]:
    intervals = values.array
    left, bounds = to_arrow(intervals.left, f"the left bounds of {what}")
    right, _ = to_arrow(intervals.right, f"the right bounds of {what}")
    array = pa.StructArray.from_arrays([left, right], names=["left", "right"])
    return array, {"interval": bounds, "closed": dtype.closed}


def _storage(dtype: pd.StringDtype) -> str:
    # NOTE: pandas 2.1/2.2 spell the NaN variant of pyarrow storage "pyarrow_numpy".
    return "pyarrow" if dtype.storage == "pyarrow_numpy" else str(dtype.storage)


def _na_name(dtype: pd.StringDtype) -> str:
    na_value = getattr(dtype, "na_value", pd.NA)
    if dtype.storage == "pyarrow_numpy" or (isinstance(na_value, float) and na_value != na_value):
        return "NaN"
    return "NA"


# ------------------------------------------------------------------------------ decode
def from_arrow(array: pa.Array | pa.ChunkedArray, descriptor: Descriptor) -> Any:
    """The pandas or NumPy array that :func:`to_arrow` turned into ``array``.

    The result owns writable memory (the algorithm may change it in place).
    """
    if isinstance(array, pa.ChunkedArray):
        if pa.types.is_dictionary(array.type):
            array = array.unify_dictionaries()
        array = array.combine_chunks()
    if "numpy" in descriptor:
        dtype = np.dtype(descriptor["numpy"])
        return array.to_numpy(zero_copy_only=False, writable=True).astype(dtype, copy=False)
    if "object" in descriptor:
        return _object_values(array, descriptor)
    if "category" in descriptor:
        return _categorical_values(array, descriptor)
    if "datetime" in descriptor:
        naive = array.cast(pa.timestamp(descriptor["datetime"]))
        utc = pd.Series(naive.to_numpy(zero_copy_only=False, writable=True), copy=False)
        return utc.dt.tz_localize("UTC").dt.tz_convert(descriptor["tz"]).array
    if "interval" in descriptor:
        left, right = (from_arrow(array.field(side), descriptor["interval"])
                       for side in ("left", "right"))
        return pd.arrays.IntervalArray.from_arrays(left, right, closed=descriptor["closed"])
    if "string" in descriptor:
        return string_dtype(descriptor["string"], descriptor["na"]).__from_arrow__(array)
    if "masked" in descriptor:
        return _masked_values(array, descriptor["masked"])
    if "arrow" in descriptor:
        return pd.arrays.ArrowExtensionArray(array)
    raise ValueError(f"unknown column descriptor {descriptor!r}")


def _object_values(array: pa.Array, descriptor: Descriptor) -> Any:
    if descriptor["object"] in ("string", "bytes"):
        values = array.to_numpy(zero_copy_only=False, writable=True)
    else:
        values = np.empty(len(array), dtype=object)
        values[:] = array.to_pylist()
    if values.dtype != object:
        values = values.astype(object)
    marker = descriptor.get("missing")
    if marker is not None and array.null_count:
        values[array.is_null().to_numpy(zero_copy_only=False)] = _MARKERS[marker]
    return values


def _masked_values(array: pa.Array, name: str) -> Any:
    # NOTE: built from data and mask, not with the dtype's __from_arrow__, which (in
    # pandas 3) reads a NaN value of a Float64 column as NA.
    dtype = pd.api.types.pandas_dtype(name)
    mask = array.is_null().to_numpy(zero_copy_only=False)
    filled = array.fill_null(False if name == "boolean" else 0)
    data = filled.to_numpy(zero_copy_only=False, writable=True).astype(dtype.numpy_dtype,
                                                                        copy=False)
    if name == "boolean":
        return pd.arrays.BooleanArray(data, mask)
    kind = pd.arrays.FloatingArray if name.startswith("Float") else pd.arrays.IntegerArray
    return kind(data, mask)


def _categorical_values(array: pa.DictionaryArray, descriptor: Descriptor) -> Any:
    categories = as_index(from_arrow(array.dictionary, descriptor["category"]))
    codes = array.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    dtype = pd.CategoricalDtype(categories, ordered=bool(descriptor["ordered"]))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def string_dtype(storage: str, na: str) -> pd.StringDtype:
    """``StringDtype(storage, na_value=...)`` on any pandas from 2.1 on."""
    if na == "NA":
        return pd.StringDtype(storage)
    try:
        return pd.StringDtype(storage, na_value=np.nan)
    except TypeError:  # pandas before 2.3
        return pd.StringDtype("pyarrow_numpy")


def as_index(values: Any, name: Any = None) -> pd.Index:
    """``values`` as an Index of exactly their dtype (pandas 3 would infer ``str`` from
    an ``object`` array of strings)."""
    return pd.Index(values, dtype=values.dtype, name=name, copy=False)
