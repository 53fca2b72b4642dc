"""Reading the row-wise ``dataframe``/``series`` tags that earlier versions wrote.

Results stored before frames travelled as Arrow hold
``{"__v6__": "dataframe", "columns", "data" (rows), "dtypes", "index"...}`` and
``{"__v6__": "series", "name", "data", "dtype", "index"...}``. They still open, rebuilt
as well as that format allows (it kept neither MultiIndexes nor axis names); nothing
writes them any more.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["decode"]


def decode(tag: str, d: dict[str, Any]) -> Any:
    """The DataFrame or Series of an old ``dataframe`` or ``series`` tag."""
    if tag == "dataframe":
        frame = pd.DataFrame(d["data"], columns=pd.Index(d["columns"]))
        for position, dtype in enumerate(d.get("dtypes") or []):
            if position < frame.shape[1]:
                frame.isetitem(position, _astype(frame.iloc[:, position], dtype))
        return _restore_index(frame, d)
    series = pd.Series(d["data"], name=d.get("name"), dtype=object)
    return _restore_index(_astype(series, d.get("dtype")), d)


def _restore_index(obj: Any, d: dict[str, Any]) -> Any:
    if "index" in d:
        index = pd.Index(d["index"], name=d.get("index_name"))
        obj.index = _astype(index, d.get("index_dtype"))
    return obj


def _astype(obj: Any, dtype: Any) -> Any:
    if not isinstance(dtype, str):
        return obj
    try:
        return obj.astype(dtype)
    except (TypeError, ValueError):
        return obj
