"""What a task request may ask for: its databases and its organizations.

Shared by the researcher's client, the server, the algorithm client and the MockNetwork,
so that a request the mock accepts is one the server accepts, with the same words when
it does not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from v6lib.errors import ValidationError

__all__ = ["normalize_databases", "subtask_databases", "unreachable_organizations"]


def normalize_databases(databases: Any) -> list[dict[str, Any]]:
    """Labels (``"default"``), ``{"label", "query"?, ...}`` or a list of either, as the
    server stores them: ``[{"label": ..., ...}]`` (an empty query is dropped)."""
    if isinstance(databases, str | Mapping):
        databases = [databases]
    out = []
    for entry in databases:
        if isinstance(entry, str):
            out.append({"label": entry})
        elif isinstance(entry, Mapping) and isinstance(entry.get("label"), str):
            out.append({k: v for k, v in entry.items() if not (k == "query" and not v)})
        else:
            raise ValidationError("databases: each entry is a label or "
                                  f"{{'label': ..., 'query': ...}}, got {entry!r}",
                                  details={"field": "databases"})
    return out


def subtask_databases(requested: Sequence[Mapping[str, Any]] | None,
                      parent: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """A subtask's databases: what it asked for, else its parent task's.

    Why: algorithm code calls ``client.task.create(...)`` without databases and expects
    the subtask to run on the same data as itself.
    """
    source = parent if requested is None else requested
    return [dict(d) for d in source or []]


def unreachable_organizations(requested: Iterable[int], reachable: Iterable[int], *,
                              collaboration_id: int, study: bool = False) -> None:
    """Refuse organizations that have no node in the collaboration (or are outside the
    study), naming them; refuse an empty or repeated list."""
    wanted = list(requested)
    if not wanted:
        raise ValidationError("organizations: give at least one organization",
                              details={"field": "organizations"})
    # NOTE: counted once (a task may name 10,000 organizations; list.count per one is
    # quadratic)
    repeated = sorted(o for o, times in Counter(wanted).items() if times > 1)
    if repeated:
        raise ValidationError(f"organizations: {repeated} listed more than once",
                              details={"field": "organizations", "organization_ids": repeated})
    allowed = set(reachable)
    refused = [o for o in wanted if o not in allowed]
    if refused:
        raise ValidationError(
            f"organizations: {refused} have no node in collaboration {collaboration_id}"
            + (" or are not in the study" if study else ""),
            details={"field": "organizations", "organization_ids": refused})
