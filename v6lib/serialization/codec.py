"""The walk over a value (``dumps``/``plain``) and the tag dispatch of ``loads``.

JSON natives are written as they are; everything else becomes a tagged object
``{"__v6__": <tag>, ...}`` made by the module that knows its type, imported only when
such a value is met (the algorithm entrypoint must not pay for pandas or pyarrow when
it returns a number). The format itself is described in :mod:`v6lib.serialization`.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import sys
from typing import Any

from v6lib.errors import SerializationError

__all__ = ["TAG", "Unsupported", "dumps", "float_tag", "loads", "plain", "unsupported"]

TAG = "__v6__"
#: deeper than this is reported as too deep (or a cycle) before Python's own limit
MAX_DEPTH = 400
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_HINT = "return plain numbers, strings, lists, dicts, numpy or pandas values"
_ATOMS = frozenset({str, int, bool, type(None)})
_BASES = (dict, list, tuple, set, frozenset, str, int, float, bytes)


class Unsupported(TypeError):
    """A value that cannot be carried exactly; the message says why, the walk adds where."""


class _Failure(Exception):
    """Unwinds the walk, collecting the keys on the way up to name the path."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segments: list[Any] = []


# ------------------------------------------------------------------------------ encode
def plain(obj: Any, root: str = "value") -> Any:
    """``obj`` as JSON-native values (tagged where needed), ready for ``json.dumps``.

    Raises:
        SerializationError: a value cannot be carried exactly; the message names its
            path, e.g. ``result['model'][2]: object of type Foo cannot be ...``.
    """
    try:
        return _encode(obj, 0)
    except _Failure as failure:
        path = root + "".join(f"[{key!r}]" for key in reversed(failure.segments))
        raise SerializationError(f"{path}: {failure.reason}") from None
    except RecursionError:
        raise SerializationError(f"{root}: value is nested too deeply") from None


def dumps(obj: Any, *, root: str = "value") -> bytes:
    """Encode ``obj`` as UTF-8 JSON (see :mod:`v6lib.serialization`).

    ``root`` names the value in error messages (e.g. ``"result"`` or ``"input"``).
    """
    text = json.dumps(plain(obj, root), allow_nan=False, ensure_ascii=False,
                      separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SerializationError(
            f"{root}: contains a string that is not valid Unicode ({exc.reason}); "
            "decode bytes before returning them, or return bytes"
        ) from None


def _encode(obj: Any, depth: int) -> Any:
    kind = type(obj)
    if kind in _ATOMS:
        return obj
    if kind is float:
        return obj if math.isfinite(obj) else float_tag(obj)
    if depth > MAX_DEPTH:
        raise _Failure("value is nested too deeply (or contains a cycle)")
    if kind is list:
        return _sequence(obj, depth)
    if kind is dict:
        return _dict(obj, depth)
    if kind is tuple:
        return {TAG: "tuple", "items": _sequence(obj, depth)}
    if kind is set or kind is frozenset:
        return {TAG: kind.__name__, "items": _sequence(_ordered(obj), depth)}
    try:
        return _other(obj)
    except Unsupported as exc:
        raise _Failure(str(exc)) from None


def _sequence(items: Any, depth: int) -> list[Any]:
    types = set(map(type, items))
    if types <= _ATOMS:  # the common big cases stay at C speed
        return items if type(items) is list else list(items)
    if types == {float} and all(map(math.isfinite, items)):
        return items if type(items) is list else list(items)
    out = []
    for position, value in enumerate(items):
        try:
            out.append(_encode(value, depth + 1))
        except _Failure as failure:
            failure.segments.append(position)
            raise
    return out


def _dict(obj: dict[Any, Any], depth: int) -> dict[str, Any]:
    if TAG not in obj and all(type(key) is str for key in obj):
        out = {}
        for key, value in obj.items():
            try:
                out[key] = _encode(value, depth + 1)
            except _Failure as failure:
                failure.segments.append(key)
                raise
        return out
    # NOTE: keys that are not str (and a key equal to the tag) would be changed by JSON
    # objects, so such a dict travels as its list of [key, value] pairs.
    items = []
    for key, value in obj.items():
        try:
            plain_key = _encode(key, depth + 1)
        except _Failure as failure:
            raise _Failure(f"dict key {key!r} cannot be carried: {failure.reason}") from None
        try:
            items.append([plain_key, _encode(value, depth + 1)])
        except _Failure as failure:
            failure.segments.append(key)
            raise
    return {TAG: "dict", "items": items}


def _ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:  # mixed types: still deterministic, whatever the hash seed
        return sorted(items, key=lambda v: (type(v).__name__, repr(v)))


def _other(obj: Any) -> Any:
    """The tagged form of a value that is not a JSON native (or :class:`Unsupported`)."""
    kind = type(obj)
    module = kind.__module__
    if module == "numpy":
        return _helper("numpy_values").encode(obj)
    if module == "pandas" or module.startswith("pandas."):
        return _helper("pandas_values").encode(obj)
    if module == "v6lib.serialization.aggregates":
        return _helper("aggregates").encode(obj)
    if kind is bytes:
        return {TAG: "bytes", "base64": base64.b64encode(obj).decode("ascii")}
    if module in ("datetime", "decimal"):
        return _helper("scalars").encode(obj)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.ndarray):  # a subclass: refused there
        return _helper("numpy_values").encode(obj)
    if isinstance(obj, _BASES):
        base = next(b for b in _BASES if isinstance(obj, b)).__name__
        raise Unsupported(f"object of type {kind.__name__} (a subclass of {base}) cannot be "
                          f"carried exactly; convert it to a plain {base} first")
    raise unsupported(obj)


def unsupported(obj: Any) -> Unsupported:
    """The refusal of a value of a type the codec does not carry at all."""
    return Unsupported(f"object of type {type(obj).__name__} cannot be serialized to JSON; "
                       f"{_HINT}")


def float_tag(value: float) -> dict[str, str]:
    """The tagged form of NaN or an infinity (JSON has no literal for them)."""
    text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return {TAG: "float", "value": text}


def _helper(name: str) -> Any:
    return importlib.import_module(f"v6lib.serialization.{name}")


# ------------------------------------------------------------------------------ decode
#: tag -> (module that decodes it, keys it may have, keys it must have)
_TAGS: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {}


def _register(module: str, tags: tuple[str, ...], keys: set[str],
              required: set[str] | None = None) -> None:
    for tag in tags:
        _TAGS[tag] = (module, frozenset({TAG, *keys}),
                      frozenset({TAG, *(keys if required is None else required)}))


_register("codec", ("float",), {"value"})
_register("codec", ("bytes",), {"base64"})
_register("codec", ("tuple", "set", "frozenset", "dict"), {"items"})
_register("scalars", ("decimal",), {"value"})
_register("scalars", ("datetime", "time"), {"iso", "tz", "fold"}, {"iso"})
_register("scalars", ("date",), {"iso"})
_register("scalars", ("timedelta",), {"days", "seconds", "microseconds"})
_register("numpy_values", ("numpy.ndarray",), {"npy"})
_register("numpy_values", ("numpy.scalar",), {"dtype", "value", "npy"}, {"dtype"})
_register("pandas_values", ("pandas.DataFrame", "pandas.Series", "pandas.Index"), {"arrow"})
_register("pandas_values", ("pandas.Timestamp",), {"iso", "unit", "tz"}, {"iso", "unit"})
_register("pandas_values", ("pandas.Timedelta",), {"iso", "unit"})
_register("pandas_values", ("pandas.NA", "pandas.NaT"), set())
_register("aggregates", ("v6lib.count",), {"n"})
_register("aggregates", ("v6lib.table",), {"table"})
_register("aggregates", ("v6lib.sum",), {"value", "n"})
_register("legacy", ("dataframe",),
          {"columns", "dtypes", "data", "index", "index_dtype", "index_name"},
          {"columns", "data"})
_register("legacy", ("series",), {"name", "dtype", "data", "index", "index_dtype",
                                  "index_name"}, {"data"})


def decode(tag: str, d: dict[str, Any]) -> Any:
    """The value of one of the tags this module makes itself."""
    if tag == "float":
        return _NONFINITE[d["value"]]
    if tag == "bytes":
        return base64.b64decode(d["base64"], validate=True)
    items = d["items"]
    if not isinstance(items, list):
        raise ValueError("items must be a list")
    if tag == "tuple":
        return tuple(items)
    if tag == "set":
        return set(items)
    if tag == "frozenset":
        return frozenset(items)
    return dict(items)  # "dict": [key, value] pairs


def _object_hook(d: dict[str, Any]) -> Any:
    tag = d.get(TAG)
    entry = _TAGS.get(tag) if isinstance(tag, str) else None
    if entry is None or not d.keys() <= entry[1] or not entry[2] <= d.keys():
        return d
    module = sys.modules[__name__] if entry[0] == "codec" else _helper(entry[0])
    try:
        return module.decode(tag, d)
    except Exception as exc:
        raise SerializationError(f"malformed {tag!r} value in JSON: {exc}") from exc


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
