"""``/organization`` and ``/collaboration`` endpoints."""

from __future__ import annotations

from tests.server.conftest import Api, World, root_org


def test_organization_crud_and_pagination(api: Api) -> None:
    for i in range(3):
        api.ok("POST", "/organization", 201, json={"name": f"o{i}", "country": "NL"})
    page = api.ok("GET", "/organization", params={"per_page": 2, "page": 1})
    assert page["total"] == 4  # root's organization too
    assert len(page["data"]) == 2 and page["links"]["next"] is not None
    assert page["links"]["previous"] is None
    last = api.ok("GET", "/organization", params={"per_page": 2, "page": 2})
    assert last["links"]["next"] is None and len(last["data"]) == 2
    org = page["data"][1]
    got = api.ok("GET", f"/organization/{org['id']}")
    assert got["name"] == org["name"]
    edited = api.ok("PATCH", f"/organization/{org['id']}", json={"domain": "x.org"})
    assert edited["domain"] == "x.org" and edited["name"] == org["name"]
    assert api.get("/organization/9999").status_code == 404
    assert api.ok("GET", "/organization", params={"name": "o1"})["total"] == 1


def test_organization_public_key_must_be_base64(api: Api) -> None:
    assert api.post("/organization", json={"name": "k", "public_key": "!!"}).status_code == 400
    body = api.ok("POST", "/organization", 201, json={"name": "k", "public_key": "QUJD"})
    assert body["public_key"] == "QUJD"


def test_collaboration_crud_and_membership(world: World) -> None:
    api = world.api
    collab = api.ok("GET", f"/collaboration/{world.collab}")
    assert collab["organization_ids"] == sorted([root_org(api), world.org_a, world.org_b])
    added = api.ok("POST", f"/collaboration/{world.collab}/organization",
                   json={"id": world.org_c})
    assert world.org_c in added["organization_ids"]
    removed = api.ok("DELETE", f"/collaboration/{world.collab}/organization",
                     json={"id": world.org_b})
    assert world.org_b not in removed["organization_ids"]
    # the removed organization's node goes with it
    assert api.get(f"/node/{world.node_b}").status_code == 404
    bad = api.delete(f"/collaboration/{world.collab}/organization", json={"id": world.org_b})
    assert bad.status_code == 400
    patched = api.ok("PATCH", f"/collaboration/{world.collab}",
                     json={"name": "renamed", "encrypted": True})
    assert patched["encrypted"] is True and patched["name"] == "renamed"
    listed = api.ok("GET", "/collaboration", params={"organization_id": world.org_a})
    assert [c["id"] for c in listed["data"]] == [world.collab]
    api.ok("DELETE", f"/collaboration/{world.collab}")
    assert api.get(f"/collaboration/{world.collab}").status_code == 404
    assert api.get(f"/node/{world.node_a}").status_code == 404


def test_collaboration_with_unknown_organization_is_404(api: Api) -> None:
    result = api.post("/collaboration", json={"name": "c", "organization_ids": [424242]})
    assert result.status_code == 404 and "424242" in result.json["message"]


def test_study_crud(world: World) -> None:
    api = world.api
    study = api.ok("POST", "/study", 201, json={"name": "s", "collaboration_id": world.collab,
                                                "organization_ids": [world.org_a]})
    assert study["organization_ids"] == [world.org_a]
    outsider = api.post("/study", json={"name": "s2", "collaboration_id": world.collab,
                                        "organization_ids": [world.org_c]})
    assert outsider.status_code == 400 and str(world.org_c) in outsider.json["message"]
    patched = api.ok("PATCH", f"/study/{study['id']}",
                     json={"organization_ids": [world.org_a, world.org_b]})
    assert patched["organization_ids"] == [world.org_a, world.org_b]
    assert api.ok("GET", "/study", params={"collaboration_id": world.collab})["total"] == 1
    api.ok("DELETE", f"/study/{study['id']}")
    assert api.get(f"/study/{study['id']}").status_code == 404


def test_node_may_set_only_its_own_organization_public_key(world: World) -> None:
    api = world.api
    node = world.node_token("a")
    done = api.ok("PATCH", f"/organization/{world.org_a}", token=node,
                  json={"public_key": "QUJD"})
    assert done["public_key"] == "QUJD"
    assert api.ok("GET", f"/organization/{world.org_a}")["public_key"] == "QUJD"
    # nothing else of its organization, not even together with the key
    for body in ({"name": "renamed"}, {"public_key": "REVG", "domain": "x.org"},
                 {"public_key": None}):
        refused = api.patch(f"/organization/{world.org_a}", token=node, json=body)
        assert refused.status_code == 403, (body, refused.text)
    # another organization of its collaboration: visible, but not editable
    other = api.patch(f"/organization/{world.org_b}", token=node, json={"public_key": "QUJD"})
    assert other.status_code == 403
    assert api.ok("GET", f"/organization/{world.org_b}")["public_key"] is None
    assert api.ok("GET", f"/organization/{world.org_a}")["name"] == "org-a"
