"""Results that pass a node's disclosure control by construction.

Why: a data owner's node refuses a result with a count below its ``min_cell_count``
or with row-level data (:mod:`v6lib.rules.disclosure`). An algorithm that returns its
counts as typed aggregates, with small cells already suppressed, is checked exactly and
passes; one that returns a bare integer frame is read by heuristics or refused. Each
helper returns a value the codec carries as what it is, so a central function (and the
researcher) receives the same :class:`Count`, :class:`CountTable` or :class:`Sum`.

Example::

    from v6lib.wrappers.aggregates import count_table, suppress_small_cells

    @data(1)
    def species_by_sex(df):
        return suppress_small_cells(count_table(df, "island", "sex"), 5)
"""

from __future__ import annotations

from typing import Any

from v6lib.serialization.aggregates import Count, CountTable, Sum

__all__ = ["Count", "CountTable", "Sum", "count", "count_table", "round_counts",
           "sum_with_n", "suppress_small_cells"]


def count(n: int) -> Count:
    """A number of records, checked as a count by the node."""
    return Count(int(n))


def count_table(frame: Any, rows: str | list[str], columns: str | list[str] | None = None
                ) -> CountTable:
    """Counts of ``frame``'s records per value of ``rows`` (and ``columns``): a crosstab.

    Rows with a missing value in a grouping column are not counted (pandas' rule).
    """
    import pandas as pd

    keys = [rows] if isinstance(rows, str) else list(rows)
    if columns is None:
        return CountTable(frame.groupby(keys, observed=True).size())
    across = [columns] if isinstance(columns, str) else list(columns)
    table = pd.crosstab([frame[k] for k in keys], [frame[c] for c in across])
    return CountTable(table)


def _table_of(table: Any) -> Any:
    return table.table if isinstance(table, CountTable) else table


def suppress_small_cells(table: Any, minimum: int) -> CountTable:
    """The table with every count from 1 to ``minimum - 1`` replaced by NA (suppressed).

    Zeros stay: they are not small cells in the sense of a minimum cell count. The
    suppression is primary only: a margin total that lets the reader compute a
    suppressed cell back is the algorithm's to leave out.
    """
    counts = _table_of(table)
    small = (counts > 0) & (counts < minimum)
    return CountTable(counts.astype("Int64").mask(small))


def round_counts(table: Any, base: int = 5) -> CountTable:
    """The table with every count rounded to the nearest multiple of ``base``."""
    counts = _table_of(table)
    rounded = (counts.astype("Float64") / base).round() * base
    return CountTable(rounded.astype("Int64"))


def sum_with_n(values: Any) -> Sum:
    """The sum of a pandas Series (or frame, per column) with the number of records it
    holds, so the node can check ``n`` and a central function can pool means."""
    return Sum(values.sum(), len(values))
