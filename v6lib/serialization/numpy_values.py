"""NumPy arrays and scalars as tagged JSON objects that keep their dtype and shape.

* an ``ndarray`` -> ``{"__v6__": "numpy.ndarray", "npy": <base64>}``: the bytes of the
  ``.npy`` format (``numpy.lib.format``, readable from R with RcppCNPy or reticulate),
  which keeps dtype, shape and memory order; arrays of dtype ``object`` are refused
  (they would need pickle);
* a scalar -> ``{"__v6__": "numpy.scalar", "dtype": "<i4", "value": 7}``: the dtype in
  NumPy's ``dtype.str`` notation and the value as JSON (booleans, integers, finite floats
  up to 64 bits; datetime64/timedelta64 as their integer count, NaT included); other
  scalars (NaN and infinities, whose sign and payload JSON would lose, complex, str_,
  long double, ...) carry ``"npy"`` (a 0-d array) instead of ``"value"``.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from v6lib.serialization.codec import TAG, Unsupported, unsupported

__all__ = ["decode", "encode"]


def encode(obj: Any) -> dict[str, Any]:
    """The tagged form of a NumPy array or scalar."""
    if type(obj) is np.ndarray:
        if obj.dtype.hasobject:
            raise Unsupported("a numpy array of dtype object cannot be carried exactly; "
                              "use a typed array, or a list")
        return {TAG: "numpy.ndarray", "npy": _npy(obj)}
    if isinstance(obj, np.generic):
        return _scalar(obj)
    if isinstance(obj, np.ndarray):
        raise Unsupported(f"object of type {type(obj).__name__} (a subclass of ndarray) "
                          "cannot be carried exactly; use a plain numpy.ndarray (numpy.asarray)")
    raise unsupported(obj)


def _scalar(obj: np.generic) -> dict[str, Any]:
    dtype = obj.dtype
    doc: dict[str, Any] = {TAG: "numpy.scalar", "dtype": dtype.str}
    if dtype.kind in "biu" or (dtype.kind == "f" and dtype.itemsize <= 8 and np.isfinite(obj)):
        doc["value"] = obj.item()
    elif dtype.kind in "mM":
        doc["value"] = int(obj.view(np.int64))
    elif dtype.hasobject:
        raise Unsupported("a numpy object scalar cannot be carried exactly")
    else:
        doc["npy"] = _npy(np.asarray(obj))
    return doc


def _npy(array: np.ndarray[Any, Any]) -> str:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getbuffer()).decode("ascii")


def _read_npy(text: str) -> np.ndarray[Any, Any]:
    raw = io.BytesIO(base64.b64decode(text, validate=True))
    return np.lib.format.read_array(raw, allow_pickle=False)


def decode(tag: str, d: dict[str, Any]) -> Any:
    """The array or scalar of a tag made by :func:`encode`."""
    if tag == "numpy.ndarray":
        return _read_npy(d["npy"])
    dtype = np.dtype(d["dtype"])
    if "npy" in d:
        value = _read_npy(d["npy"])
    elif dtype.kind in "mM":
        value = np.array(d["value"], dtype=np.int64).view(dtype)
    else:
        value = np.array(d["value"], dtype=dtype)
    if value.dtype != dtype or value.ndim != 0 or dtype.hasobject:
        raise ValueError(f"not a scalar of dtype {dtype}")
    return value[()]
