"""Finding 9: a deeply nested JSON body made the server answer 500 (RecursionError)."""

from __future__ import annotations

import pytest

from tests.security.conftest import LiveFactory

DEEP = 100_000
ARRAYS = b"[" * DEEP + b"]" * DEEP
OBJECTS = b'{"a":' * DEEP + b"1" + b"}" * DEEP
# a bomb wrapped in an object, so it gets past a "body must be an object" check
WRAPPED = b'{"name": ' + ARRAYS + b"}"


@pytest.mark.parametrize("body", [ARRAYS, OBJECTS, WRAPPED], ids=["arrays", "objects",
                                                                  "wrapped"])
def test_nesting_bombs_are_refused_with_400_everywhere(live: LiveFactory, body: bytes) -> None:
    # Prepare
    server = live()
    world = server.world()
    token = world.api.token
    targets = [
        ("POST", "/token/user", None),
        ("POST", "/token/node", None),
        ("POST", "/recover/lost", None),
        ("POST", "/organization", token),
        ("POST", "/task", token),
        ("PATCH", f"/node/{world.node_a}", token),
    ]
    for method, path, bearer in targets:
        # Execute
        answer = server.request(method, path, token=bearer, data=body,
                                headers={"Content-Type": "application/json"})
        # Assert
        assert answer.status_code == 400, (method, path, answer.status_code, answer.text)
        error = answer.json()
        assert error["code"] == "validation_error", (path, error)
        assert "64 levels" in error["message"], (path, error)
    assert server.get("/health").status_code == 200


def test_nesting_in_query_parameters_is_harmless(live: LiveFactory) -> None:
    # Prepare
    server = live()
    token = server.api.token
    deep = "[" * 10_000 + "]" * 10_000
    # Execute
    listed = server.get("/organization", token=token, params={"name": deep})
    cursor = server.get("/event", token=token, params={"since": deep})
    # Assert: a query value is a flat string; it never reaches a JSON decoder
    assert listed.status_code == 200 and listed.json()["total"] == 0
    assert cursor.status_code == 400 and cursor.json()["code"] == "validation_error"
