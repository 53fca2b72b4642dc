"""pandas values as tagged JSON objects: frames through Arrow, scalars as small objects.

* ``DataFrame`` / ``Series`` / ``Index`` (``MultiIndex`` included) ->
  ``{"__v6__": "pandas.DataFrame", "arrow": <base64 Arrow IPC stream>}`` (and
  ``pandas.Series``, ``pandas.Index``), see :mod:`~v6lib.serialization.frames`;
* ``Timestamp`` -> ``{"__v6__": "pandas.Timestamp", "iso", "unit", "tz"}``;
* ``Timedelta`` -> ``{"__v6__": "pandas.Timedelta", "iso", "unit"}``;
* ``NA`` / ``NaT`` -> ``{"__v6__": "pandas.NA"}`` / ``{"__v6__": "pandas.NaT"}``.

Subclasses of DataFrame and Series (their extra state would be lost) and other pandas
objects (a bare ``Categorical``, ``Period``, ...) are refused.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from v6lib.serialization import frames
from v6lib.serialization.codec import TAG, Unsupported
from v6lib.serialization.scalars import zone_name

__all__ = ["decode", "encode"]


def encode(obj: Any) -> dict[str, Any]:
    """The tagged form of a pandas value."""
    kind = type(obj)
    if kind is pd.DataFrame or kind is pd.Series or isinstance(obj, pd.Index):
        name = "Index" if isinstance(obj, pd.Index) else kind.__name__
        return {TAG: f"pandas.{name}", "arrow": frames.encode(obj)}
    if obj is pd.NaT:
        return {TAG: "pandas.NaT"}
    if obj is pd.NA:
        return {TAG: "pandas.NA"}
    if kind is pd.Timestamp:
        tz = None if obj.tz is None else zone_name(obj.tz)
        return {TAG: "pandas.Timestamp", "iso": obj.isoformat(), "unit": obj.unit, "tz": tz}
    if kind is pd.Timedelta:
        return {TAG: "pandas.Timedelta", "iso": obj.isoformat(), "unit": obj.unit}
    if isinstance(obj, pd.DataFrame | pd.Series):
        base = "DataFrame" if isinstance(obj, pd.DataFrame) else "Series"
        raise Unsupported(f"object of type {kind.__name__} (a subclass of {base}) cannot be "
                          f"carried exactly; convert it to a plain pandas.{base} first")
    raise Unsupported(f"object of type {kind.__name__} cannot be serialized to JSON; return "
                      "a DataFrame, Series or Index instead")


def decode(tag: str, d: dict[str, Any]) -> Any:
    """The value of a tag made by :func:`encode`."""
    kind = tag.removeprefix("pandas.")
    if kind in frames.KINDS:
        return frames.decode(d["arrow"], kind)
    if kind == "NaT":
        return pd.NaT
    if kind == "NA":
        return pd.NA
    if kind == "Timedelta":
        return pd.Timedelta(d["iso"]).as_unit(d["unit"])
    value = pd.Timestamp(d["iso"])
    if d.get("tz") is not None:
        value = value.tz_convert(d["tz"])
    return value.as_unit(d["unit"])
