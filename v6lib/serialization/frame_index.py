"""A pandas row or column index as Arrow arrays plus a JSON description, and back.

* A ``RangeIndex`` is only described (start, stop, step): it costs no array.
* A flat index is one array (see :mod:`~v6lib.serialization.frame_fields`).
* A ``MultiIndex`` is one array per level, dictionary-encoded: the dictionary holds the
  level's values in the level's own order (unused ones included) and the indices are the
  codes, so the levels come back as they were, not re-sorted (``unstack`` after
  ``groupby(sort=False)`` depends on that order). A categorical level is sent as its
  categorical values, with the level's codes into the categories in the description.

The names of the index (axis names, e.g. a crosstab's) are described too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from v6lib.serialization.codec import Unsupported
from v6lib.serialization.frame_fields import as_index, from_arrow, to_arrow

__all__ = ["index_arrays", "rebuild_index"]

Description = dict[str, Any]


def index_arrays(index: pd.Index, what: str) -> tuple[list[pa.Array], Description]:
    """The arrays that carry ``index`` and the description that rebuilds it.

    The description's ``names`` are the index names as they are; the caller turns them
    into JSON.
    """
    names = list(index.names)
    if type(index) is pd.RangeIndex:
        return [], {"range": [index.start, index.stop, index.step], "names": names}
    if isinstance(index, pd.MultiIndex):
        arrays, levels = [], []
        for position in range(index.nlevels):
            array, level = _level(index, position, f"level {position} of the {what}")
            arrays.append(array)
            levels.append(level)
        return arrays, {"levels": levels, "names": names}
    if type(index).__name__ not in _FLAT:
        raise Unsupported(f"the {what} is a {type(index).__name__}, which cannot be carried "
                          "exactly; use a plain, categorical, interval or datetime index")
    array, descriptor = to_arrow(index, f"the {what}")
    description: Description = {"flat": descriptor, "names": names}
    if getattr(index, "freq", None) is not None:
        description["freq"] = index.freqstr  # a date_range's frequency is part of it
    return [array], description


#: the Index classes a flat index may be (a PeriodIndex is refused)
_FLAT = frozenset({"Index", "CategoricalIndex", "DatetimeIndex", "TimedeltaIndex",
                   "IntervalIndex"})


def _level(index: pd.MultiIndex, position: int, what: str) -> tuple[pa.Array, Description]:
    level = index.levels[position]
    codes = np.asarray(index.codes[position])
    if isinstance(level, pd.CategoricalIndex):
        # the values per row as a categorical over the categories, plus the level's order
        values = pd.Categorical.from_codes(np.where(codes < 0, -1, level.codes[codes]),
                                           dtype=level.dtype)
        array, descriptor = to_arrow(pd.Series(values, copy=False), what)
        return array, {"values": descriptor, "level_codes": level.codes.tolist()}
    dictionary, descriptor = to_arrow(level, what)
    indices = pa.array(codes, mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, dictionary), {"level": descriptor}


def rebuild_index(arrays: list[Any], description: Description, names: list[Any]) -> pd.Index:
    """The index :func:`index_arrays` described, with ``names`` (already decoded)."""
    if "range" in description:
        start, stop, step = description["range"]
        return pd.RangeIndex(start, stop, step, name=names[0])
    if "flat" in description:
        [array] = arrays
        flat = as_index(from_arrow(array, description["flat"]), names[0])
        if "freq" in description:
            return type(flat)(flat, freq=description["freq"])
        return flat
    levels, codes = [], []
    for array, level in zip(arrays, description["levels"], strict=True):
        values, level_codes = _rebuild_level(array, level)
        levels.append(values)
        codes.append(level_codes)
    return pd.MultiIndex(levels=levels, codes=codes, names=names)


def _rebuild_level(array: Any, level: Description) -> tuple[pd.Index, Any]:
    if isinstance(array, pa.ChunkedArray):
        array = array.unify_dictionaries().combine_chunks()
    if "level" in level:
        values = as_index(from_arrow(array.dictionary, level["level"]))
        return values, array.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    categorical = from_arrow(array, level["values"])
    level_codes = np.asarray(level["level_codes"], dtype=np.int64)
    values = pd.CategoricalIndex(pd.Categorical.from_codes(level_codes,
                                                           dtype=categorical.dtype))
    lookup = np.full(len(categorical.categories) + 1, -1, dtype=np.int64)
    lookup[level_codes] = np.arange(len(level_codes))
    return values, lookup[categorical.codes]  # a code of -1 picks the last entry: -1
