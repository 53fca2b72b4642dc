"""The page's two pieces of server knowledge, checked against the Python originals in
the browser itself: the permission engine's ``can`` and the result codec's decoding."""

from __future__ import annotations

import base64
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.browser.conftest import url
from v6lib import serialization
from v6lib.server.permissions.policy import can
from v6lib.server.permissions.principal import Principal
from v6lib.server.permissions.roles import DEFAULT_ROLES
from v6lib.server.permissions.rules import CATALOGUE
from v6lib.testing import LocalFederation

pytestmark = [pytest.mark.browser, pytest.mark.integration]

TARGETS: list[dict[str, Any]] = [
    {}, {"organization_ids": [1]}, {"organization_ids": [2]}, {"organization_ids": [3]},
    {"organization_ids": [1, 2]}, {"organization_ids": [2, 3]}, {"collaboration_id": 10},
    {"collaboration_id": 11}, {"owner_id": 5}, {"owner_id": 6},
    {"organization_ids": [3], "collaboration_id": 10, "owner_id": 5},
]


def _principal(rules: Any) -> Principal:
    return Principal(kind="user", organization_id=1, collaboration_ids=frozenset({10}),
                     collab_org_ids=frozenset({1, 2}), rules=frozenset(rules), user_id=5)


def test_the_page_judges_like_the_permission_engine(
        page: Any, federation: LocalFederation) -> None:
    page.goto(url(federation.port, "#/login"))
    operations = sorted({key.operation for key in CATALOGUE})
    resources = sorted({key.name for key in CATALOGUE})
    cases, expected = [], []
    for role, (_description, rules) in DEFAULT_ROLES.items():
        me = _principal(rules)
        js_me = {"user_id": 5, "organization_id": 1, "collaboration_ids": [10],
                 "collab_org_ids": [1, 2],
                 "rules": [{"name": r.name, "scope": r.scope, "operation": r.operation}
                           for r in rules]}
        for operation, resource, target in itertools.product(operations, resources, TARGETS):
            cases.append({"me": js_me, "operation": operation, "resource": resource,
                          "target": {"organizationIds": target.get("organization_ids", []),
                                     "collaborationId": target.get("collaboration_id"),
                                     "ownerId": target.get("owner_id")},
                          "label": f"{role}: {operation} {resource} {target}"})
            expected.append(can(me, operation, resource, **target))
    answers = page.evaluate("""async (cases) => {
        const { can } = await import("/ui/permissions.js");
        return cases.map((c) => can(c.me, c.operation, c.resource, c.target));
    }""", cases)
    wrong = [c["label"] for c, a, e in zip(cases, answers, expected, strict=True) if a != e]
    assert not wrong, wrong[:10]
    assert any(expected) and not all(expected)


def _stored(value: Any) -> str:
    return base64.b64encode(serialization.dumps(value)).decode("ascii")


def test_the_page_decodes_results_like_the_codec(page: Any, federation: LocalFederation) -> None:
    page.goto(url(federation.port, "#/login"))
    frame = pd.DataFrame({"age": [61, 70], "bmi": [24.5, math.nan], "site": ["a", None]},
                         index=pd.Index(["x", "y"], name="who"))
    values = {
        "frame": frame,
        "series": pd.Series([1.5, 2.5], name="mean"),
        "nested": {"n": np.int64(3), "inf": math.inf, "raw": b"\x00\x01", "list": [1, "two"]},
        "plain": 42,
    }
    decoded = page.evaluate("""async (stored) => {
        const codec = await import("/ui/decode.js");
        const out = {};
        for (const [name, text] of Object.entries(stored)) {
          const result = codec.decodeResult(text);
          out[name] = result.kind === "table"
            ? { kind: "table", columns: result.columns, index: result.index,
                indexName: result.indexName, csv: codec.tableToCsv(result) }
            : { kind: result.kind, text: codec.pretty(result.value) };
        }
        return out;
    }""", {name: _stored(value) for name, value in values.items()})

    assert decoded["frame"]["columns"] == ["age", "bmi", "site"]
    assert decoded["frame"]["index"] == ["x", "y"] and decoded["frame"]["indexName"] == "who"
    assert decoded["frame"]["csv"].splitlines() == ["who,age,bmi,site", "x,61,24.5,a",
                                                    "y,70,NaN,NaN"]  # as the codec loads it
    assert decoded["series"]["columns"] == ["mean"]
    assert decoded["series"]["csv"].splitlines() == ["mean", "1.5", "2.5"]
    nested = decoded["nested"]
    assert nested["kind"] == "value"
    assert '"inf": "Infinity"' in nested["text"] and '"length": 2' in nested["text"]
    assert decoded["plain"] == {"kind": "value", "text": "42"}
