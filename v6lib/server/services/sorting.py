"""``sort=name,-id``: the order of a list page, as vantage6 4.x lists accept it.

Only the fields named here can be sorted on: each is a plain column that the list's
answer shows anyway, so an order never reveals a value the caller cannot read (sorting
users by password hash or two-factor secret would leak them one comparison at a time).
An unknown field is a 400 that names it. The id always ends the order, so pages stay
stable when the sorted values repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import UnaryExpression

from v6lib.errors import ValidationError

__all__ = ["MAX_SORT_FIELDS", "SORTABLE", "order_by"]

#: resource -> the fields its list may be sorted on
SORTABLE: Mapping[str, frozenset[str]] = {
    "organization": frozenset({"id", "name", "domain", "country", "zipcode"}),
    "collaboration": frozenset({"id", "name", "encrypted"}),
    "node": frozenset({"id", "name", "organization_id", "collaboration_id", "status",
                       "last_seen_at"}),
    "user": frozenset({"id", "username", "firstname", "lastname", "email",
                       "organization_id"}),
    "role": frozenset({"id", "name", "organization_id"}),
    "rule": frozenset({"id", "name", "scope", "operation"}),
    "task": frozenset({"id", "name", "image", "collaboration_id", "study_id", "init_org_id",
                       "init_user_id", "parent_id", "job_id", "status"}),
    "run": frozenset({"id", "task_id", "organization_id", "node_id", "status",
                      "assigned_at", "started_at", "finished_at"}),
    "study": frozenset({"id", "name", "collaboration_id"}),
}

#: more sort fields than this is not an order anyone needs, only work for the database
MAX_SORT_FIELDS = 5


def _fields(resource: str, sort: str) -> list[tuple[str, bool]]:
    """``[(field, descending), ...]`` of ``sort``, or a 400 naming what is wrong."""
    allowed = SORTABLE[resource]
    terms = [term.strip() for term in sort.split(",")]
    if len(terms) > MAX_SORT_FIELDS:
        raise ValidationError(f"sort: at most {MAX_SORT_FIELDS} fields",
                              details={"field": "sort"})
    fields = []
    for term in terms:
        descending = term.startswith("-")
        name = term[1:] if descending else term
        if name not in allowed:
            raise ValidationError(
                f"sort: unknown field {name!r} for a {resource} list; sortable fields: "
                f"{', '.join(sorted(allowed))} (prefix '-' for descending order)",
                details={"field": "sort", "value": name})
        fields.append((name, descending))
    return fields


def order_by(model: type[Any], resource: str, sort: str | None) -> list[UnaryExpression[Any]]:
    """The ``ORDER BY`` terms of a ``resource`` list for the query parameter ``sort``."""
    fields = _fields(resource, sort) if sort else []
    terms = [getattr(model, name).desc() if descending else getattr(model, name).asc()
             for name, descending in fields]
    if "id" not in {name for name, _ in fields}:
        terms.append(model.id.asc())
    return terms
