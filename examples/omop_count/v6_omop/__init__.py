"""Persons per condition in an OMOP CDM database.

The node's ``databases`` entry names the database (``type: omop`` or ``sql``, a network
URI) and this package's :data:`CONDITION_QUERY` as its query, or the researcher passes the
query with the task. ``persons_by_condition`` sees the query's rows as a DataFrame and
returns, per condition name, how many distinct persons have it; conditions held by fewer
than ``min_count`` persons are left out, so no small group leaves the organization.
"""

from __future__ import annotations

import pandas as pd

from v6lib.errors import DataError
from v6lib.wrappers import data

__all__ = ["CONDITION_QUERY", "persons_by_condition"]

#: One row per condition occurrence: who, and the condition's concept name.
CONDITION_QUERY = (
    "SELECT co.person_id, c.concept_name AS condition "
    "FROM condition_occurrence co JOIN concept c ON c.concept_id = co.condition_concept_id"
)


@data(1)
def persons_by_condition(df: pd.DataFrame, min_count: int = 1) -> dict[str, int]:
    """``{condition name: number of distinct persons}``, groups under ``min_count`` left out."""
    missing = {"person_id", "condition"} - set(df.columns)
    if missing:
        raise DataError(f"the query's rows lack {sorted(missing)}; use v6_omop.CONDITION_QUERY")
    counts = df.groupby("condition")["person_id"].nunique()
    return {str(name): int(n) for name, n in counts.items() if n >= min_count}
