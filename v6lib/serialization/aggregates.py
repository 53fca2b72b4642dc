"""Typed aggregates: counts, count tables and sums that say what they are.

Why: a node that enforces a minimum cell count must know which numbers of a result
are counts. A plain ``5`` or an integer frame could be a count, an age or a year; a
:class:`Count`, :class:`CountTable` or :class:`Sum` cannot be mistaken, so the node's
disclosure rule (:mod:`v6lib.rules.disclosure`) checks it exactly instead of guessing.
They travel as tagged objects of the codec and come back as the same class:

* ``{"__v6__": "v6lib.count", "n": 12}``
* ``{"__v6__": "v6lib.table", "table": <a pandas DataFrame or Series>}``: counts per
  cell (a crosstab, ``value_counts``, ``groupby().size()``); a missing cell (NA) is a
  suppressed one;
* ``{"__v6__": "v6lib.sum", "value": 1234.5, "n": 27}``: a sum over ``n`` records.

Nothing here imports pandas: the classes hold whatever the algorithm built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from v6lib.serialization.codec import TAG, Unsupported, plain

__all__ = ["TAGS", "Count", "CountTable", "Sum", "decode", "encode"]

TAGS = ("v6lib.count", "v6lib.table", "v6lib.sum")


@dataclass(frozen=True)
class Count:
    """A number of records (people, visits, events)."""

    n: int


@dataclass(frozen=True)
class CountTable:
    """Counts per cell: a pandas DataFrame or Series of non-negative integers (NA where
    a cell was suppressed)."""

    table: Any


@dataclass(frozen=True)
class Sum:
    """A sum (or a vector of sums) over ``n`` records: what a mean is made of."""

    value: Any
    n: int


def encode(obj: Count | CountTable | Sum) -> dict[str, Any]:
    """The tagged form of a typed aggregate."""
    if isinstance(obj, Count):
        return {TAG: "v6lib.count", "n": _plain(obj.n, "n")}
    if isinstance(obj, CountTable):
        return {TAG: "v6lib.table", "table": _plain(obj.table, "table")}
    return {TAG: "v6lib.sum", "value": _plain(obj.value, "value"), "n": _plain(obj.n, "n")}


def _plain(value: Any, name: str) -> Any:
    try:
        return plain(value, name)
    except Exception as exc:  # a SerializationError naming the field; the walk adds where
        raise Unsupported(str(exc)) from None


def decode(tag: str, d: dict[str, Any]) -> Count | CountTable | Sum:
    """The aggregate of a tagged object (its fields are already decoded)."""
    if tag == "v6lib.count":
        return Count(d["n"])
    if tag == "v6lib.table":
        return CountTable(d["table"])
    return Sum(d["value"], d["n"])
