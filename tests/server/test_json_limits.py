"""Request JSON is decoded with an explicit nesting limit."""

from __future__ import annotations

import io
import json
from typing import Any

import falcon
import pytest

from v6lib.errors import ValidationError
from v6lib.server.json_limits import MAX_JSON_DEPTH, json_depth, loads


@pytest.mark.parametrize(("text", "depth"), [
    (b'1', 0),
    (b'"[[[["', 0),
    (b'[]', 1),
    (b'[[], {}]', 2),
    (b'{"a": [{"b": [1]}]}', 4),
    (b'["\\"[[[", [2]]', 2),
    (b'{"k": "\\\\"}', 1),
])
def test_depth_counts_brackets_outside_strings(text: bytes, depth: int) -> None:
    assert json_depth(text) == depth


def test_few_brackets_need_no_scan() -> None:
    assert json_depth(b'[[["x"]]]', at_least=5) == 3


def test_limit_is_inclusive() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads(ok.encode()) == json.loads(ok)
    with pytest.raises(ValidationError, match="64 levels") as caught:
        loads(("[" + ok + "]").encode())
    assert caught.value.details == {"max_depth": MAX_JSON_DEPTH}


@pytest.mark.parametrize("bomb", [
    b"[" * 200_000 + b"]" * 200_000,
    b'{"a":' * 200_000 + b"1" + b"}" * 200_000,
    b"[" * 200_000,  # not even closed
])
def test_bombs_are_validation_errors_not_recursion_errors(bomb: bytes) -> None:
    with pytest.raises(ValidationError):
        loads(bomb)


def test_text_and_malformed_json() -> None:
    assert loads('{"a": "é"}') == {"a": "é"}
    with pytest.raises(ValidationError, match="not valid JSON"):
        loads(b"{nope")
    with pytest.raises(ValidationError, match="not valid JSON"):
        loads(b"\xff\xfe")


def test_app_media_handler_uses_the_limit(app: Any) -> None:
    handler = app.req_options.media_handlers[falcon.MEDIA_JSON]
    assert handler.deserialize(io.BytesIO(b'{"a": [1]}'), falcon.MEDIA_JSON, None) == \
        {"a": [1]}
    with pytest.raises((ValidationError, falcon.MediaMalformedError)):
        handler.deserialize(io.BytesIO(b"[" * 10_000 + b"]" * 10_000),
                            falcon.MEDIA_JSON, None)
