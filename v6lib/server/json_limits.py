"""Decode request JSON with an explicit nesting limit, so a nesting bomb is a 400.

Why: Python's JSON decoder recurses once per nesting level and raises ``RecursionError``
(a 500) on inputs a few thousand levels deep, and code that walks the decoded value
(validation, NUL checks) recurses again. No request of this API nests more than a few
levels, so bodies nested deeper than ``MAX_JSON_DEPTH`` are refused *before* decoding,
by a linear scan that never recurses.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from v6lib.errors import ValidationError

__all__ = ["MAX_JSON_DEPTH", "json_depth", "loads"]

#: Deepest nesting of arrays and objects accepted in a request body.
MAX_JSON_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_OPENERS = (b"[", b"{")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(raw: bytes, *, at_least: int = 0) -> int:
    """How deep arrays and objects nest in the JSON text ``raw`` (0 for a scalar).

    Brackets inside strings do not count. ``at_least`` is a shortcut: when ``raw``
    holds no more opening brackets than that, it cannot nest deeper, and their count is
    returned without scanning. Malformed text gets a number too; decoding rejects it.
    """
    openers = sum(raw.count(b) for b in _OPENERS)
    if openers <= at_least:
        return openers
    # NOTE: C-speed steps only (regex, translate, accumulate): linear in the body size.
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses bodies nested deeper than ``max_depth`` levels.

    Raises:
        ValidationError: the text is not JSON, or nests too deeply (never RecursionError).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth = json_depth(data, at_least=max_depth)
    if depth > max_depth:
        raise ValidationError(
            f"request body nests arrays and objects more than {max_depth} levels deep",
            details={"max_depth": max_depth})
    try:
        return json.loads(data)
    except RecursionError:  # pragma: no cover - the depth check above prevents it
        raise ValidationError("request body nests too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"request body is not valid JSON: {exc}") from None
