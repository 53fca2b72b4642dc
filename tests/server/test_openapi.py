"""``/apidocs``: an OpenAPI 3.1 document that covers every route and method."""

from __future__ import annotations

import json
from typing import Any

import schemathesis

from tests.server.conftest import Api
from v6lib.server.resources._base import Resource
from v6lib.server.routes import build_routes


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_document_covers_every_responder(api: Api) -> None:
    doc = api.client.simulate_get("/apidocs").json
    assert doc["openapi"] == "3.1.0"
    routes = build_routes(hub=None, long_polls=None, version="0")
    for path, resource in routes:
        responders = {m[3:] for m in dir(resource) if m.startswith("on_")}
        assert responders == set(resource.api), path
        key = "/api" + path.replace("{id:int(min=1,max=2147483647)}", "{id}")
        assert set(doc["paths"][key]) == responders, key


def test_every_reference_resolves(api: Api) -> None:
    doc = api.client.simulate_get("/api/apidocs").json
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_security_and_errors_declared(api: Api) -> None:
    doc = api.client.simulate_get("/apidocs").json
    task_post = doc["paths"]["/api/task"]["post"]
    assert task_post["security"] == [{"bearerAuth": []}]
    assert {"201", "400", "401", "403", "409", "413"} <= set(task_post["responses"])
    assert "security" not in doc["paths"]["/api/token/user"]["post"]
    listing = doc["paths"]["/api/task"]["get"]["responses"]["200"]
    ref = listing["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("Page_TaskOut_")


def test_schemathesis_loads_the_document(api: Api) -> None:
    doc = api.client.simulate_get("/apidocs").json
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(doc)))
    operations = list(schema.get_all_operations())
    routes = build_routes(hub=None, long_polls=None, version="0")
    assert len(operations) == sum(len(r.api) for _, r in routes)


def test_resource_base_has_no_operations() -> None:
    assert Resource.api == {}
