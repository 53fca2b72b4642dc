"""pandas DataFrames, Series and Indexes as Arrow IPC streams, exactly.

The stream holds one record batch: the data columns first, then one field per level of
a non-range row index (pyarrow's layout), each carried as
:mod:`~v6lib.serialization.frame_fields` describes. Its schema metadata holds:

* ``pandas``: pyarrow's standard pandas metadata, so ``pyarrow`` (``read_pandas``) and
  other Arrow readers (R's ``arrow::read_ipc_stream``) see named columns and the index;
  left out when pyarrow cannot describe the frame (duplicate column labels);
* ``v6``: the JSON that makes the round trip exact: ``version``, ``kind`` (``DataFrame``,
  ``Series`` or ``Index``), ``columns`` (one descriptor per data field), ``index`` and,
  for a DataFrame, ``column_index`` (descriptions from
  :mod:`~v6lib.serialization.frame_index`; the column labels' arrays travel as a
  second, base64-encoded IPC stream under ``column_index.arrow``), a Series' ``name``,
  and ``attrs`` and ``allows_duplicate_labels`` when they are set.
  Names and labels are JSON in the codec's own format, so tuples stay tuples.

A frame that cannot be carried exactly (a dtype outside the supported set, an object
column mixing types, ...) raises :class:`~v6lib.serialization.codec.Unsupported` with
the column at fault; the codec adds the path.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pandas as pd
import pyarrow as pa

from v6lib.errors import SerializationError
from v6lib.serialization.codec import Unsupported, loads, plain
from v6lib.serialization.frame_fields import from_arrow, to_arrow
from v6lib.serialization.frame_index import index_arrays, rebuild_index

__all__ = ["KINDS", "decode", "encode"]

KINDS = ("DataFrame", "Series", "Index")
VERSION = 1
_V6 = b"v6"


# ------------------------------------------------------------------------------ encode
def encode(obj: pd.DataFrame | pd.Series | pd.Index) -> str:
    """``obj`` as the base64 text of an Arrow IPC stream (see the module docstring)."""
    kind = _kind(obj)
    meta: dict[str, Any] = {"version": VERSION, "kind": kind}
    columns = _columns(obj)
    arrays, meta["columns"] = [], []
    for position, (label, values) in enumerate(columns):
        array, descriptor = to_arrow(values, _describe_column(kind, position, label))
        arrays.append(array)
        meta["columns"].append(descriptor)
    index = obj if kind == "Index" else obj.index
    index_fields, meta["index"] = index_arrays(index, "index" if kind == "Index" else "row index")
    _name_json(meta["index"], "index")
    if kind == "DataFrame":
        meta["column_index"] = _column_index(obj.columns)
    elif kind == "Series":
        meta["name"] = _plain_value(obj.name, "the Series name")
    if kind != "Index":
        _flags(obj, meta)
    names, pandas_meta = _field_names(obj, kind, len(arrays), len(index_fields))
    schema = pa.schema([pa.field(name, array.type)
                        for name, array in zip(names, arrays + index_fields, strict=True)],
                       metadata={**pandas_meta, _V6: json.dumps(meta).encode("utf-8")})
    batch = pa.RecordBatch.from_arrays(arrays + index_fields, schema=schema)
    return base64.b64encode(_ipc(batch)).decode("ascii")


def _kind(obj: Any) -> str:
    if isinstance(obj, pd.DataFrame):
        return "DataFrame"
    if isinstance(obj, pd.Series):
        return "Series"
    return "Index"


def _columns(obj: Any) -> list[tuple[Any, Any]]:
    if isinstance(obj, pd.DataFrame):
        return [(label, obj.iloc[:, i]) for i, label in enumerate(obj.columns)]
    if isinstance(obj, pd.Series):
        return [(obj.name, obj)]
    return []


def _describe_column(kind: str, position: int, label: Any) -> str:
    if kind == "Series":
        return "the Series"
    return f"column {label!r} (position {position})"


def _column_index(columns: pd.Index) -> dict[str, Any]:
    arrays, description = index_arrays(columns, "column labels")
    _name_json(description, "column axis")
    if arrays:
        batch = pa.RecordBatch.from_arrays(arrays, names=[f"level_{i}" for i in
                                                          range(len(arrays))])
        description["arrow"] = base64.b64encode(_ipc(batch)).decode("ascii")
    return description


def _flags(obj: pd.DataFrame | pd.Series, meta: dict[str, Any]) -> None:
    """``attrs`` and ``allows_duplicate_labels`` travel too, when they are set."""
    if obj.attrs:
        meta["attrs"] = _plain_value(obj.attrs, "attrs")
    if not obj.flags.allows_duplicate_labels:
        meta["allows_duplicate_labels"] = False


def _name_json(description: dict[str, Any], what: str) -> None:
    description["names"] = [_plain_value(name, f"a name of the {what}")
                            for name in description["names"]]


def _plain_value(value: Any, what: str) -> Any:
    try:
        return plain(value, root=what)
    except SerializationError as exc:
        raise Unsupported(exc.message) from None


def _field_names(obj: Any, kind: str, n_data: int, n_index: int
                 ) -> tuple[list[str], dict[bytes, bytes]]:
    """Field names and pyarrow's pandas metadata (what other Arrow readers use)."""
    frame = obj if kind == "DataFrame" else (
        obj.to_frame(name=_series_label(obj.name)) if kind == "Series"
        else pd.DataFrame(index=obj))
    if any(name is not None and not isinstance(name, str) for name in frame.index.names):
        # NOTE: pyarrow warns about (and stringifies) such names; the v6 entry keeps them.
        frame = frame.set_axis(frame.index.set_names(
            [n if n is None or isinstance(n, str) else str(n) for n in frame.index.names]))
    try:
        schema = pa.Schema.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, ValueError, TypeError):
        labels = [str(label) for label in frame.columns]
        return labels + [f"__index_level_{i}__" for i in range(n_index)], {}
    names = schema.names
    if len(names) != n_data + n_index:  # not pyarrow's layout: name the fields plainly
        names = [str(label) for label in frame.columns] + [
            f"__index_level_{i}__" for i in range(n_index)]
    return names, {b"pandas": schema.metadata[b"pandas"]}


def _series_label(name: Any) -> Any:
    return name if isinstance(name, str) else "values"


def _ipc(batch: pa.RecordBatch) -> pa.Buffer:
    """The IPC stream of ``batch`` written straight into a buffer of the right size (a
    growing ``BufferOutputStream`` is several times slower on big frames)."""
    mock = pa.MockOutputStream()
    with pa.ipc.new_stream(mock, batch.schema) as writer:
        writer.write_batch(batch)
    buffer = pa.allocate_buffer(mock.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buffer), batch.schema) as writer:
        writer.write_batch(batch)
    return buffer


# ------------------------------------------------------------------------------ decode
def decode(text: str, kind: str) -> Any:
    """The DataFrame, Series or Index that :func:`encode` turned into ``text``."""
    table = _read(text)
    meta = loads(table.schema.metadata[_V6])
    if meta.get("version") != VERSION or meta.get("kind") != kind:
        raise ValueError(f"Arrow stream holds {meta.get('kind')!r} version "
                         f"{meta.get('version')!r}, expected {kind!r} version {VERSION}")
    n_data = len(meta["columns"])
    values = [from_arrow(table.column(i), descriptor)
              for i, descriptor in enumerate(meta["columns"])]
    index = rebuild_index(table.columns[n_data:], meta["index"], meta["index"]["names"])
    if kind == "Index":
        return index
    if kind == "Series":
        [series] = values
        return _with_flags(pd.Series(series, index=index, name=meta["name"],
                                     dtype=series.dtype, copy=False), meta)
    if not values:
        frame = pd.DataFrame(index=index)
    else:
        frame = pd.DataFrame({i: pd.Series(v, dtype=v.dtype, copy=False)
                              for i, v in enumerate(values)}, copy=False)
        frame.index = index
    frame.columns = _rebuild_columns(meta["column_index"])
    return _with_flags(frame, meta)


def _with_flags(obj: Any, meta: dict[str, Any]) -> Any:
    if "attrs" in meta:
        obj.attrs = meta["attrs"]
    if meta.get("allows_duplicate_labels") is False:
        obj = obj.set_flags(allows_duplicate_labels=False)
    return obj


def _read(text: str) -> pa.Table:
    raw = base64.b64decode(text, validate=True)
    return pa.ipc.open_stream(pa.py_buffer(raw)).read_all()


def _rebuild_columns(description: dict[str, Any]) -> pd.Index:
    arrays = _read(description["arrow"]).columns if "arrow" in description else []
    return rebuild_index(arrays, description, description["names"])
