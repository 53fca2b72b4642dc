"""Nested ``{id, link, methods}`` references beside flat ids."""

from __future__ import annotations

from v6lib.server.compat.references import add_references

METHODS = {"organization": ["GET", "PATCH"], "task": ["DELETE", "GET"]}


def test_flat_ids_get_nested_references() -> None:
    item = {"id": 5, "organization_id": 2, "init_org_id": 3, "parent_id": None}
    add_references(item, "/api", METHODS)
    assert item["organization"] == {"id": 2, "link": "/api/organization/2",
                                    "methods": ["GET", "PATCH"]}
    assert item["init_org"] == {"id": 3, "link": "/api/organization/3",
                                "methods": ["GET", "PATCH"]}
    assert item["parent"] is None  # vantage6 answers a missing parent with null


def test_existing_fields_are_never_overwritten() -> None:
    item = {"organization_id": 2, "organization": "kept"}
    add_references(item, "/api", METHODS)
    assert item == {"organization_id": 2, "organization": "kept"}


def test_fields_that_are_not_ids_are_left_alone() -> None:
    item = {"name_id": 1, "task_id": "x", "run_id": True}
    add_references(item, "/api", METHODS)
    assert item == {"name_id": 1, "task_id": "x", "run_id": True}


def test_unknown_methods_default_to_get() -> None:
    item = {"study_id": 4}
    add_references(item, "/v6", METHODS)
    assert item["study"] == {"id": 4, "link": "/v6/study/4", "methods": ["GET"]}
