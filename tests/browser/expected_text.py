"""What the page should show for a value the codec decoded, written from the Python side:
cells as pandas prints them (``str`` of the scalar pandas hands out), arrays as NumPy
lists them. The browser tests compare the page's decoding with these."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def cell(value: Any) -> str:
    """A table cell's text: pandas' own ``str`` of the scalar, with its missing markers."""
    if value is None:
        return "None"
    if value is pd.NA:
        return "<NA>"
    if value is pd.NaT:
        return "NaT"
    if isinstance(value, float | np.floating) and math.isnan(value):
        return "NaN"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    return str(value)


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float | np.floating) and math.isnan(value))


def _has_default_index(index: pd.Index) -> bool:
    return (type(index) is pd.RangeIndex and index.start == 0 and index.step == 1
            and index.name is None)


def table(obj: pd.DataFrame | pd.Series | pd.Index) -> dict[str, Any]:
    """The header and rows (raw scalars) the page should show for ``obj``."""
    if isinstance(obj, pd.Index):
        frame, index = pd.DataFrame(index=obj), obj
    else:
        frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
        index = obj.index
    labels = [" / ".join(map(str, label)) if isinstance(label, tuple) else str(label)
              for label in frame.columns]
    if isinstance(obj, pd.Series):
        labels = ["value" if obj.name is None else str(obj.name)]
    show_index = isinstance(obj, pd.Index) or not _has_default_index(index)
    names = ["" if name is None else str(name) for name in index.names] if show_index else []
    rows = []
    for i in range(len(frame)):
        key = index[i] if isinstance(index, pd.MultiIndex) else (index[i],)
        rows.append([*(key if show_index else ()),
                     *(frame.iloc[i, j] for j in range(frame.shape[1]))])
    return {"head": names + labels, "rows": rows}


def array(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    """A NumPy array as the page lists it: dtype, shape and nested values."""
    def element(value: Any) -> Any:
        if isinstance(value, np.floating):
            return "NaN" if math.isnan(value) else float(str(value))  # float32: its digits
        if isinstance(value, np.datetime64 | np.timedelta64):
            return str(value)
        if isinstance(value, np.integer) and abs(int(value)) > 2**53 - 1:
            return str(value)  # beyond a JSON number: the exact digits
        return value.item() if isinstance(value, np.generic) else value

    def nested(part: Any) -> Any:
        return [nested(p) for p in part] if isinstance(part, np.ndarray) and part.ndim else (
            element(part[()] if isinstance(part, np.ndarray) else part))

    dtype = values.dtype.name if values.dtype.kind not in "US" else values.dtype.str
    if values.dtype.kind in "mM":
        dtype = str(values.dtype)
    return {"dtype": dtype, "shape": list(values.shape), "values": nested(values)}
