"""vantage6's conventions on every answer: ``msg`` in errors, list headers, ``include``."""

from __future__ import annotations

from tests.server.conftest import Api, World


def test_errors_carry_msg_beside_code_and_message(api: Api) -> None:
    result = api.get("/organization/999")
    assert result.status_code == 404
    assert result.json["msg"] == result.json["message"]
    assert result.json["code"] == "not_found"


def test_lists_carry_total_count_and_link_headers(world: World) -> None:
    for name in ("x", "y"):
        world.api.ok("POST", "/organization", 201, json={"name": name})
    result = world.api.get("/organization", params={"per_page": 2, "page": 2})
    total = result.json["total"]
    assert result.headers["total-count"] == str(total) and total > 4
    link = result.headers["link"]
    assert "</api/organization?page=1&per_page=2>; rel=first" in link
    assert "</api/organization?page=3&per_page=2>; rel=next" in link
    assert "</api/organization?page=1&per_page=2>; rel=previous" in link


def test_a_long_query_leaves_the_link_header_out_not_the_links(world: World) -> None:
    result = world.api.get("/organization", params={"name": "[" * 5000})
    assert result.status_code == 200 and result.headers["total-count"] == "0"
    assert "link" not in result.headers  # HTTP clients refuse header lines over 64 KiB
    assert result.json["links"]["first"].startswith("/api/organization?")


def test_list_items_carry_references(world: World) -> None:
    [node] = world.api.ok("GET", "/node", params={"organization_id": world.org_a})["data"]
    assert node["organization"]["id"] == world.org_a
    assert node["collaboration"]["link"] == f"/api/collaboration/{world.collab}"


def test_include_is_accepted_and_other_unknown_parameters_still_refused(world: World) -> None:
    task = world.task()
    assert world.api.ok("GET", f"/task/{task['id']}", params={"include": "results"})["id"] \
        == task["id"]
    assert world.api.ok("GET", "/run", params={"include": "task"})["total"] == 2
    refused = world.api.get("/run", params={"order": "-id"})
    assert refused.status_code == 400 and "order" in refused.json["msg"]


def test_delete_dependents_true_confirms_the_delete(world: World) -> None:
    world.task()
    answer = world.api.call("DELETE", f"/collaboration/{world.collab}",
                            params={"delete_dependents": "True"})
    assert answer.status_code == 200, answer.text
    assert world.api.get(f"/collaboration/{world.collab}").status_code == 404


def test_delete_dependents_false_is_refused_and_nothing_is_deleted(world: World) -> None:
    answer = world.api.call("DELETE", f"/collaboration/{world.collab}",
                            params={"delete_dependents": "False"})
    assert answer.status_code == 400 and "delete_dependents" in answer.json["msg"]
    assert world.api.ok("GET", f"/collaboration/{world.collab}")["id"] == world.collab
