"""``sort`` on list endpoints and ``state=open`` on runs, as vantage6 4.x lists take them."""

from __future__ import annotations

from tests.server.conftest import Api, World


def _names(api: Api, path: str, sort: str) -> list[str]:
    return [item["name"] for item in api.ok("GET", path, params={"sort": sort,
                                                                 "per_page": 100})["data"]]


def test_sort_ascending_descending_and_by_two_fields(db_world: World) -> None:
    api = db_world.api
    for name in ("beta", "alpha", "gamma"):
        api.ok("POST", "/organization", 201, json={"name": name, "country": "NL"})
    names = _names(api, "/organization", "name")
    assert names == sorted(names) and {"alpha", "beta", "gamma"} <= set(names)
    assert _names(api, "/organization", "-name") == sorted(names, reverse=True)
    by_country = api.ok("GET", "/organization", params={"sort": "-country,name",
                                                        "per_page": 100})["data"]
    nl = [o["name"] for o in by_country if o["country"] == "NL"]
    assert nl == ["alpha", "beta", "gamma"]
    ids = [o["id"] for o in api.ok("GET", "/organization", params={"sort": "-id"})["data"]]
    assert ids == sorted(ids, reverse=True)


def test_pages_of_a_sorted_list_neither_repeat_nor_skip(world: World) -> None:
    for n in range(5):  # five equal sort values: only the id can order them
        world.api.ok("POST", "/organization", 201, json={"name": f"o{n}", "country": "BE"})
    seen = []
    for page in (1, 2, 3, 4, 5):
        seen += [o["id"] for o in world.api.ok("GET", "/organization", params={
            "sort": "country", "per_page": 2, "page": page})["data"]]
    everything = world.api.ok("GET", "/organization", params={"per_page": 100})
    assert sorted(seen) == sorted(o["id"] for o in everything["data"])


#: (list, sort field) that must be refused: unknown, secret, not a column, injection
REFUSED = [("/organization", "nope"), ("/user", "password_hash"), ("/user", "mfa_secret"),
           ("/user", "reset_token_hash"), ("/node", "api_key_hash"), ("/run", "result"),
           ("/run", "input"), ("/task", "-databases"), ("/organization", "name;drop table user"),
           ("/organization", "")]


def test_an_unknown_or_secret_field_is_a_400_naming_it(world: World) -> None:
    for path, field in REFUSED:
        answer = world.api.get(path, params={"sort": f"id,{field}"})
        assert answer.status_code == 400, (path, field, answer.text)
        assert answer.json["code"] == "validation_error"
        assert answer.json["details"]["field"] == "sort"
        assert repr(field.lstrip("-")) in answer.json["message"]


def test_too_many_sort_fields_or_repeated_sort_is_refused(world: World) -> None:
    assert world.api.get("/organization", params={"sort": ",".join(["name"] * 6)}
                         ).status_code == 400
    repeated = world.api.get("/organization", params={"sort": ["name", "id"]})
    assert repeated.status_code == 400 and "more than once" in repeated.json["message"]


def test_every_list_endpoint_sorts(world: World) -> None:
    world.task(), world.task()
    world.user("second", world.org_a, ["Researcher"])
    world.api.ok("POST", "/collaboration", 201, json={"name": "other",
                                                      "organization_ids": [world.org_c]})
    for name in ("s1", "s2"):
        world.api.ok("POST", "/study", 201, json={
            "name": name, "collaboration_id": world.collab,
            "organization_ids": [world.org_a, world.org_b]})
    for path in ("/organization", "/collaboration", "/node", "/user", "/role", "/rule",
                 "/task", "/run", "/result", "/study"):
        ids = [i["id"] for i in world.api.ok("GET", path, params={"sort": "-id"})["data"]]
        assert ids == sorted(ids, reverse=True) and len(ids) >= 2, path


def test_state_open_lists_the_runs_not_yet_finished(world: World) -> None:
    done, running = world.task(), world.task()
    world.api.ok("POST", f"/task/{done['id']}/kill")
    open_runs = world.api.ok("GET", "/run", params={"state": "open", "per_page": 100})
    assert {r["task_id"] for r in open_runs["data"]} == {running["id"]}
    assert open_runs["total"] == 2
    assert world.api.ok("GET", "/run", params={"per_page": 100})["total"] == 4
    closed = world.api.get("/run", params={"state": "closed"})
    assert closed.status_code == 400 and "state" in closed.json["message"]
