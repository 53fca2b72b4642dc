"""The one JSON codec for algorithm inputs and results, shared by wrapper, node, mock and client.

Why one codec: a central function must receive a partial result exactly as it would in
production, whatever path (mock network, local node, real node) the value travelled.

Policy (``dumps`` is strict and explicit, ``loads`` is lenient):

* JSON natives pass through; tuples become lists; dict keys that are ``int``, ``float``,
  ``bool``, ``None`` or numpy integers are turned into strings (as ``json`` does); any other
  key is an error.
* numpy scalars become Python numbers/bools; numpy arrays become nested lists (the dtype is
  not kept); ``numpy.datetime64`` and ``datetime``/``date``/``time``/``pandas.Timestamp``
  become ISO-8601 strings (``loads`` returns them as strings); ``pandas.NaT``/``pandas.NA``
  become ``null``; ``Decimal`` becomes a float; sets become sorted lists (insertion order
  when the elements cannot be ordered).
* NaN and +/-infinity are never emitted as the non-standard ``NaN``/``Infinity`` literals:
  they become ``{"__v6__": "float", "value": "NaN" | "Infinity" | "-Infinity"}``, which
  ``loads`` turns back into a float, so the round trip is lossless and any language can
  read the document.
* ``bytes`` become ``{"__v6__": "bytes", "base64": ...}`` and come back as ``bytes``.
* ``pandas.DataFrame`` becomes ``{"__v6__": "dataframe", "columns", "data" (rows),
  "dtypes", optional "index"/"index_dtype"/"index_name"}`` and ``pandas.Series`` becomes
  ``{"__v6__": "series", "name", "data", "dtype", optional index fields}``; ``loads``
  rebuilds them with their column dtypes.
* Anything else raises :class:`~v6lib.errors.SerializationError` naming the path inside
  the value, e.g. ``result['model'][2]: object of type Foo cannot be serialized ...``.

The ``__v6__`` key is reserved: a dict whose ``__v6__`` value names one of the tags above
and that has exactly that tag's keys is decoded as the tagged value.

Speed: the common case is a single call to the C JSON encoder with a ``default`` hook; a
Python walk over the value happens only when it contains non-finite floats, unusual keys
or unsupported objects (to rewrite them or to find the path for the error message).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from v6lib.errors import SerializationError

__all__ = ["TAG", "dumps", "loads"]

TAG = "__v6__"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_HINT = "return plain numbers, strings, lists, dicts, numpy or pandas values"


class _Unsupported(TypeError):
    """Raised by the default hook; carries nothing so the fast path stays cheap."""


def _float_tag(value: float) -> dict[str, str]:
    text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return {TAG: "float", "value": text}


def _index_fields(index: Any, n: int) -> dict[str, Any]:
    pd = sys.modules["pandas"]
    fields: dict[str, Any] = {}
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
            and len(index) == n and index.name is None):
        fields["index"] = index.tolist()
        fields["index_dtype"] = str(index.dtype)
        if index.name is not None:
            fields["index_name"] = index.name
    return fields


def _missing_positions(column: Any) -> Any:
    """Row positions of NaN/inf in a pandas column, found vectorized."""
    np = sys.modules["numpy"]
    if column.dtype.kind == "f":
        return np.flatnonzero(~np.isfinite(column.to_numpy()))
    return np.flatnonzero(column.isna().to_numpy())


def _tag_floats(positions: Any, pick: Any) -> None:
    for row in positions:
        holder, key = pick(int(row))
        value = holder[key]
        if isinstance(value, float) and not math.isfinite(value):
            holder[key] = _float_tag(value)


def _frame_rows(frame: Any) -> list[Any]:
    """Row lists with non-finite floats already tagged, so the C encoder never fails on them."""
    rows = frame.to_numpy(dtype=object).tolist()
    for j in range(frame.shape[1]):
        _tag_floats(_missing_positions(frame.iloc[:, j]), lambda i, j=j: (rows[i], j))
    return rows


def _series_values(series: Any) -> list[Any]:
    values = series.to_numpy(dtype=object).tolist()
    _tag_floats(_missing_positions(series), lambda i: (values, i))
    return values


def _encode_pandas(obj: Any) -> Any:
    pd = sys.modules["pandas"]
    if isinstance(obj, pd.DataFrame):
        return {
            TAG: "dataframe",
            "columns": obj.columns.tolist(),
            "dtypes": [str(t) for t in obj.dtypes],
            "data": _frame_rows(obj),
            **_index_fields(obj.index, len(obj)),
        }
    if isinstance(obj, pd.Series):
        return {
            TAG: "series",
            "name": obj.name,
            "dtype": str(obj.dtype),
            "data": _series_values(obj),
            **_index_fields(obj.index, len(obj)),
        }
    if isinstance(obj, pd.Timestamp):
        return None if obj is pd.NaT else obj.isoformat()
    if obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, pd.Index):
        return obj.tolist()
    raise _Unsupported


def _encode_numpy(obj: Any) -> Any:
    np = sys.modules["numpy"]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f" and obj.ndim > 0:
            return _float_array(obj)
        if obj.dtype.kind in "OUSMbiu":
            return obj.tolist() if obj.dtype.kind != "M" else [_encode_numpy(v) for v in obj]
        raise _Unsupported
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.datetime64):
        if np.isnat(obj):
            return None
        return sys.modules["pandas"].Timestamp(obj).isoformat() if "pandas" in sys.modules \
            else str(obj)
    raise _Unsupported


def _sorted_set(obj: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(obj)
    except TypeError:  # mixed types: still deterministic, whatever the hash seed
        return sorted(obj, key=lambda v: (type(v).__name__, repr(v)))


def _default(obj: Any) -> Any:
    """Replacement for a value the C encoder does not know; ``_Unsupported`` otherwise."""
    module = type(obj).__module__
    if module.startswith("pandas"):
        return _encode_pandas(obj)
    if module == "numpy":
        return _encode_numpy(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        import base64

        return {TAG: "bytes", "base64": base64.b64encode(bytes(obj)).decode("ascii")}
    # NOTE: datetime and decimal are looked up, not imported: a value of their types
    # exists only once they are loaded, and the algorithm entrypoint must not pay for them.
    dt = sys.modules.get("datetime")
    if dt is not None and isinstance(obj, dt.datetime | dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return _sorted_set(obj)
    decimal = sys.modules.get("decimal")
    if decimal is not None and isinstance(obj, decimal.Decimal):
        return float(obj)
    raise _Unsupported


def _float_array(array: Any) -> Any:
    """Nested lists of a float array, with only its non-finite entries tagged (vectorized)."""
    np = sys.modules["numpy"]
    nested = array.tolist()
    finite = np.isfinite(array)
    if finite.all():
        return nested
    for position in np.argwhere(~finite):
        *outer, last = (int(i) for i in position)
        target = nested
        for i in outer:
            target = target[i]
        target[last] = _float_tag(target[last])
    return nested


def _key(key: Any, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return json.dumps(key) if not isinstance(key, float) or math.isfinite(key) else str(key)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(key, np.integer):
        return str(int(key))
    raise SerializationError(
        f"{path}: dict key {key!r} of type {type(key).__name__} cannot be a JSON key; "
        "use str or int keys"
    )


def _walk(obj: Any, path: str, depth: int = 0) -> Any:
    """Rewrite ``obj`` into JSON-native values with finite floats, raising with a path."""
    if depth > 500:
        raise SerializationError(f"{path}: value is nested too deeply (or contains a cycle)")
    if obj is None or isinstance(obj, str | bool | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else _float_tag(obj)
    if isinstance(obj, dict):
        return {_key(k, path): _walk(v, f"{path}[{k!r}]", depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_walk(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]
    if type(obj).__module__ == "numpy" and getattr(obj, "dtype", None) is not None \
            and obj.dtype.kind == "f" and getattr(obj, "ndim", 0) > 0:
        return _float_array(obj)
    try:
        replacement = _default(obj)
    except _Unsupported:
        raise SerializationError(
            f"{path}: object of type {type(obj).__name__} cannot be serialized to JSON; {_HINT}"
        ) from None
    return _walk(replacement, path, depth + 1)


def _encode(obj: Any) -> str:
    return json.dumps(
        obj, default=_default, allow_nan=False, ensure_ascii=False, separators=(",", ":")
    )


def dumps(obj: Any, *, root: str = "value") -> bytes:
    """Encode ``obj`` as UTF-8 JSON following the module's policy.

    ``root`` names the value in error messages (e.g. ``"result"`` or ``"input"``).
    """
    try:
        text = _encode(obj)
    except (ValueError, TypeError, RecursionError):
        # Non-finite floats, unusual keys or unsupported objects: rewrite or locate.
        try:
            text = _encode(_walk(obj, root))
        except RecursionError:
            raise SerializationError(f"{root}: value is nested too deeply") from None
        except (ValueError, TypeError) as exc:
            raise SerializationError(f"{root}: cannot be serialized to JSON: {exc}") from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SerializationError(
            f"{root}: contains a string that is not valid Unicode ({exc.reason}); "
            "decode bytes before returning them, or return bytes"
        ) from None


# --------------------------------------------------------------------------- decoding


def _restore_index(obj: Any, tagged: dict[str, Any]) -> Any:
    if "index" in tagged:
        pd = sys.modules["pandas"]
        index = pd.Index(tagged["index"], name=tagged.get("index_name"))
        obj.index = _astype(index, tagged.get("index_dtype"))
    return obj


def _astype(obj: Any, dtype: Any) -> Any:
    if not isinstance(dtype, str):
        return obj
    try:
        return obj.astype(dtype)
    except (TypeError, ValueError):
        return obj


def _decode_frame(d: dict[str, Any]) -> Any:
    import pandas as pd

    columns = d["columns"]
    frame = pd.DataFrame(d["data"], columns=pd.Index(columns))
    for position, dtype in enumerate(d.get("dtypes") or []):
        if position < frame.shape[1]:
            frame.isetitem(position, _astype(frame.iloc[:, position], dtype))
    return _restore_index(frame, d)


def _decode_series(d: dict[str, Any]) -> Any:
    import pandas as pd

    series = pd.Series(d["data"], name=d.get("name"), dtype=object)
    series = _astype(series, d.get("dtype"))
    return _restore_index(series, d)


def _b64decode(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


_DECODERS: dict[str, tuple[frozenset[str], Any]] = {
    "float": (frozenset({TAG, "value"}), lambda d: _NONFINITE[d["value"]]),
    "bytes": (frozenset({TAG, "base64"}), lambda d: _b64decode(d["base64"])),
    "dataframe": (
        frozenset({TAG, "columns", "dtypes", "data", "index", "index_dtype", "index_name"}),
        _decode_frame,
    ),
    "series": (
        frozenset({TAG, "name", "dtype", "data", "index", "index_dtype", "index_name"}),
        _decode_series,
    ),
}
_REQUIRED = {"float": {"value"}, "bytes": {"base64"}, "dataframe": {"columns", "data"},
             "series": {"data"}}


def _object_hook(d: dict[str, Any]) -> Any:
    if TAG not in d:
        return d
    kind = d[TAG]
    entry = _DECODERS.get(kind) if isinstance(kind, str) else None
    if entry is None or not d.keys() <= entry[0] or not _REQUIRED[kind] <= d.keys():
        return d
    try:
        return entry[1](d)
    except Exception as exc:
        raise SerializationError(f"malformed {kind!r} value in JSON: {exc}") from exc


def loads(data: bytes | bytearray | str) -> Any:
    """Decode JSON made by :func:`dumps` (or any JSON), restoring tagged values."""
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SerializationError(f"JSON input is not valid UTF-8: {exc}") from None
    if not isinstance(data, str):
        raise SerializationError(f"loads() needs bytes or str, got {type(data).__name__}")
    try:
        return json.loads(data, object_hook=_object_hook)
    except json.JSONDecodeError as exc:
        raise SerializationError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise SerializationError("JSON input is nested too deeply") from None
