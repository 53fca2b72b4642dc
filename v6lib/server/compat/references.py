"""Nested references as vantage6 writes them: ``"organization": {"id", "link", "methods"}``.

vantage6's client reads some ids only through these objects (``user["organization"]["id"]``
after login, ``node["collaboration"]["id"]``), so every flat ``<name>_id`` field that names
a resource gets its nested twin, unless the body already has a field of that name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["REFERENCED_RESOURCES", "add_references"]

#: flat id field -> the resource (path segment) it names
REFERENCED_RESOURCES: Mapping[str, str] = {
    "organization_id": "organization",
    "collaboration_id": "collaboration",
    "node_id": "node",
    "study_id": "study",
    "task_id": "task",
    "run_id": "run",
    "user_id": "user",
    "init_org_id": "organization",
    "init_user_id": "user",
    "parent_id": "task",
}


def _nested_name(field: str) -> str:
    """``organization_id`` -> ``organization``, ``init_org_id`` -> ``init_org``."""
    return field.removesuffix("_id")


def add_references(item: dict[str, Any], api_path: str,
                   methods: Mapping[str, Sequence[str]]) -> None:
    """Add ``{id, link, methods}`` beside every known flat id of ``item`` (in place).

    ``methods`` maps a resource to the HTTP methods its item path answers; a null id gets
    a null reference, as vantage6 answers for a missing parent.
    """
    for field, resource in REFERENCED_RESOURCES.items():
        if field not in item:
            continue
        name = _nested_name(field)
        if name in item:
            continue
        value = item[field]
        if value is None:
            item[name] = None
        elif isinstance(value, int) and not isinstance(value, bool):
            item[name] = {"id": value, "link": f"{api_path}/{resource}/{value}",
                          "methods": list(methods.get(resource, ("GET",)))}
