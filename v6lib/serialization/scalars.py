"""Python's ``Decimal`` and ``datetime`` values as tagged JSON objects, exactly.

* ``Decimal`` -> ``{"__v6__": "decimal", "value": "1.250"}`` (its exact text, NaN included);
* ``datetime`` / ``time`` -> ``{"__v6__": "datetime", "iso": ..., "tz": ..., "fold": 1}``:
  ISO 8601 with the UTC offset; ``tz`` names an IANA zone (``zoneinfo``; a ``pytz`` zone
  comes back as the ``zoneinfo`` zone of the same name), absent for naive values and
  fixed offsets; ``fold`` only when it is 1;
* ``date`` -> ``{"__v6__": "date", "iso": "2024-01-02"}``;
* ``timedelta`` -> ``{"__v6__": "timedelta", "days", "seconds", "microseconds"}``.

A time zone without a name that is not a fixed offset (e.g. ``dateutil``'s) is refused.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from v6lib.serialization.codec import TAG, Unsupported, unsupported

__all__ = ["decode", "encode", "zone_name"]


def encode(obj: Any) -> dict[str, Any]:
    """The tagged form of a ``Decimal``, ``datetime``, ``date``, ``time`` or ``timedelta``."""
    kind = type(obj)
    if kind is decimal.Decimal:
        return {TAG: "decimal", "value": str(obj)}
    if kind is dt.datetime or kind is dt.time:
        doc: dict[str, Any] = {TAG: kind.__name__, "iso": obj.isoformat()}
        if obj.tzinfo is not None:
            name = zone_name(obj.tzinfo, obj if kind is dt.datetime else None)
            if name is not None:
                if kind is dt.time:
                    raise Unsupported(f"a time with the time zone {name} has no UTC offset; "
                                      "use a datetime")
                doc["tz"] = name
        if obj.fold:
            doc["fold"] = 1
        return doc
    if kind is dt.date:
        return {TAG: "date", "iso": obj.isoformat()}
    if kind is dt.timedelta:
        return {TAG: "timedelta", "days": obj.days, "seconds": obj.seconds,
                "microseconds": obj.microseconds}
    raise unsupported(obj)  # a tzinfo or timezone on its own


def zone_name(tz: dt.tzinfo, moment: dt.datetime | None = None) -> str | None:
    """The IANA name of ``tz``, or None for a fixed UTC offset (the ISO text keeps it).

    Raises:
        Unsupported: ``tz`` has no name and is not a fixed offset.
    """
    if isinstance(tz, dt.timezone):
        return None
    for attribute in ("key", "zone"):  # zoneinfo, pytz
        name = getattr(tz, attribute, None)
        if isinstance(name, str):
            return name
    if tz.utcoffset(None) is not None:  # e.g. pytz.FixedOffset
        return None
    raise Unsupported(f"the time zone {tz!r} has no IANA name and is not a fixed offset, so "
                      "it cannot be carried exactly; use zoneinfo.ZoneInfo or datetime.timezone")


def decode(tag: str, d: dict[str, Any]) -> Any:
    """The value of a tag made by :func:`encode`."""
    if tag == "decimal":
        return decimal.Decimal(d["value"])
    if tag == "date":
        return dt.date.fromisoformat(d["iso"])
    if tag == "timedelta":
        return dt.timedelta(days=d["days"], seconds=d["seconds"],
                            microseconds=d["microseconds"])
    value: dt.datetime | dt.time
    if tag == "datetime":
        value = dt.datetime.fromisoformat(d["iso"])
        if "tz" in d:  # only datetimes carry a named zone (see encode)
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(d["tz"]))  # the same instant, named zone
    else:
        value = dt.time.fromisoformat(d["iso"])
    if d.get("fold"):
        value = value.replace(fold=1)
    return value
