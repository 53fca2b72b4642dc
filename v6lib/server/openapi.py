"""Build the OpenAPI 3.1 document from the route table and each resource's ``api`` ops.

Request and response schemas come from the same pydantic models that validate and
serialize the traffic, so the document cannot disagree with the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from v6lib.schemas._base import MAX_ID
from v6lib.schemas.common import ErrorBody, Page
from v6lib.server.resources._base import Op, Resource

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{(\w+)(?::\w+(?:\([^)]*\))?)?\}")
_ERROR_TEXT = {400: "Invalid request", 401: "Not authenticated", 403: "Not allowed",
               404: "Not found", 405: "Method not allowed", 409: "Conflict",
               413: "Body too large", 429: "Too many attempts", 500: "Internal error",
               503: "Unavailable"}


def _response_model(op: Op) -> type[BaseModel] | None:
    if op.response is None:
        return None
    return Page[op.response] if op.paged else op.response  # type: ignore[name-defined]


def _collect(routes: Iterable[tuple[str, Resource]]) -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for _, resource in routes:
        for op in resource.api.values():
            if op.body is not None:
                wanted.append((op.body, "validation"))
            model = _response_model(op)
            if model is not None:
                wanted.append((model, "serialization"))
    unique = list(dict.fromkeys(wanted))
    keys, schema = models_json_schema(unique, ref_template=_REF)
    return keys, schema.get("$defs", {})


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF, mode="validation")
    components.update(schema.get("$defs", {}))
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required,
             "schema": _not_null(prop)}
            for name, prop in schema.get("properties", {}).items()]


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the ``null`` branch."""
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1:
        rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
        return {**rest, **options[0]}
    return prop


def _error_responses(op: Op) -> dict[str, Any]:
    codes = set(op.errors) | {500}
    if op.body is not None or op.query is not None:
        codes |= {400}
    if op.body is not None:
        codes |= {404, 413}  # a body may name ids that do not exist
    if op.auth:
        codes |= {401, 403}
    ref = {"$ref": _REF.format(model="ErrorBody")}
    return {str(c): {"description": _ERROR_TEXT.get(c, "Error"),
                     "content": {"application/json": {"schema": ref}}} for c in sorted(codes)}


def _operation(path: str, method: str, op: Op, resource: Resource, keys: dict[Any, Any],
               components: dict[str, Any]) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}
               if f"{{{name}:int" in path else {"type": "string"}}
              for name in _PARAM.findall(path)]
    if op.query is not None:
        params += _query_parameters(op.query, components)
    result: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{method}_{type(resource).__name__}",
        "parameters": params,
        "responses": _error_responses(op),
    }
    model = _response_model(op)
    if model is not None:
        result["responses"][str(op.status)] = {
            "description": op.summary,
            "content": {"application/json": {"schema": keys[(model, "serialization")]}}}
    if op.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": keys[(op.body, "validation")]}}}
    if op.auth:
        result["security"] = [{"bearerAuth": []}]
    return result


def build_openapi(routes: list[tuple[str, Resource]], *, api_path: str,
                  version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes`` (paths relative to ``api_path``)."""
    keys, components = _collect(routes)
    paths: dict[str, Any] = {}
    for path, resource in routes:
        if not resource.api:
            continue
        item = paths.setdefault(_PARAM.sub(r"{\1}", f"{api_path}{path}"), {})
        for method, op in resource.api.items():
            item[method] = _operation(path, method, op, resource, keys, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "v6lib server API", "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"}},
        },
    }
