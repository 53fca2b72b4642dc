"""The page's two pieces of server knowledge, checked against the Python originals in
the browser itself: the permission engine's ``can`` and the result codec's decoding."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.browser import expected_text
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


#: frames that exercise each part of the Arrow format: a MultiIndex of rows and one of
#: columns, a crosstab's axis names, categoricals, nullable integers, time-zone-aware
#: datetimes, NaT, NaN, None, float32, intervals
VISITS = pd.DataFrame({
    "sex": pd.Categorical(["F", "M", "F", None], categories=["M", "F", "X"]),
    "site": [2, 1, 2, 1],
    "bmi": [21.5, 30.25, math.nan, 3.0],
    "visits": pd.array([3, None, 1, 2], dtype="Int64"),
    "seen": pd.to_datetime(["2024-01-02 10:00:00.123456", None, "2024-06-01 00:00",
                            "2024-03-31 03:30"], format="mixed").tz_localize("Europe/Amsterdam"),
    "note": ["a, \"quoted\" note", None, "", "x"],
    "smoker": [True, False, True, False],
    "weight": np.array([70.1, 80.2, 0.1, 1e-5], dtype=np.float32),
    "band": pd.cut([5, 25, 45, 65], [0, 18, 40, 70]),
    "stay": pd.to_timedelta([90, None, 1.5, -30], unit="min"),
}, index=pd.Index(["a", "b", "c", "d"], name="who"))

FRAMES: dict[str, Any] = {
    "visits": VISITS,
    "by_sex_site": VISITS.groupby(["sex", "site"], observed=True, sort=False).agg(
        {"bmi": ["mean", "count"], "visits": ["sum"]}),
    "crosstab": pd.crosstab(VISITS["smoker"], VISITS["site"]),
    "size": VISITS.groupby(["smoker", "site"]).size(),
    "unnamed": pd.Series([1.5, math.nan], index=pd.Index([10, 20], name="n")),
    "default_index": pd.DataFrame({"x": [1, 2]}),
    "index": pd.MultiIndex.from_tuples([("F", 1), ("M", 2)], names=["sex", "site"]),
}

ARRAYS: dict[str, Any] = {
    "matrix": np.array([[0.1, math.nan], [2.0, -1e-7]], dtype=np.float32),
    "fortran": np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)),
    "big": np.array([2**62, -3], dtype=np.int64),
    "days": np.array(["2024-01-02T10:00:00", "NaT"], dtype="datetime64[s]"),
    "minutes": np.array(["2024-01-02T10:00"], dtype="datetime64[m]"),
    "waits": np.array([5, 7], dtype="timedelta64[s]"),
    "words": np.array(["héllo", "x"]),
    "flags": np.array([True, False]),
    "scalar": np.array(7.25),
}

_DECODE = """async (stored) => {
    const codec = await import("/ui/decode.js");
    const out = {};
    for (const [name, text] of Object.entries(stored)) {
      const result = codec.decodeResult(text);
      out[name] = result.kind === "table"
        ? { kind: "table", head: codec.tableHead(result), header: codec.headerRows(result),
            rows: result.rows.map((_, i) => codec.tableRow(result, i).map(codec.cellText)),
            csv: codec.tableToCsv(result) }
        : { kind: result.kind, text: codec.pretty(result.value) };
    }
    return out;
}"""


def test_the_page_decodes_results_like_the_codec(page: Any, federation: LocalFederation) -> None:
    """Frames: each cell as pandas prints what the codec loads, and the CSV alike."""
    page.goto(url(federation.port, "#/login"))
    decoded = page.evaluate(_DECODE, {name: _stored(value) for name, value in FRAMES.items()})
    for name, value in FRAMES.items():
        expected = expected_text.table(serialization.loads(serialization.dumps(value)))
        shown = decoded[name]
        assert shown["kind"] == "table", name
        assert shown["head"] == expected["head"], name
        assert shown["rows"] == [[expected_text.cell(v) for v in row]
                                 for row in expected["rows"]], name
        csv_rows = list(csv.reader(io.StringIO(shown["csv"])))
        assert csv_rows == [expected["head"]] + [
            ["" if expected_text.is_missing(v) else expected_text.cell(v) for v in row]
            for row in expected["rows"]], name
    # the spots most likely to go wrong, spelled out
    assert decoded["by_sex_site"]["head"] == ["sex", "site", "bmi / mean", "bmi / count",
                                              "visits / sum"]
    # shown as pandas lays MultiIndex columns out: a row per level, shared labels spanning
    assert decoded["by_sex_site"]["header"] == [
        [{"text": "", "span": 1}, {"text": "", "span": 1}, {"text": "bmi", "span": 2},
         {"text": "visits", "span": 1}],
        [{"text": t, "span": 1} for t in ("sex", "site", "mean", "count", "sum")]]
    first = decoded["visits"]["rows"][0]
    assert first[:5] == ["a", "F", "2", "21.5", "3"]
    assert first[5] == "2024-01-02 10:00:00.123456+01:00"
    assert decoded["visits"]["rows"][1][3:6] == ["30.25", "<NA>", "NaT"]
    assert decoded["visits"]["rows"][3][1] == "NaN"  # a missing category
    assert decoded["default_index"]["head"] == ["x"]  # 0, 1, 2, ... is left out


def test_the_page_lists_arrays_and_values_like_the_codec(
        page: Any, federation: LocalFederation) -> None:
    page.goto(url(federation.port, "#/login"))
    values = {**ARRAYS,
              "nested": {"n": np.int64(3), "f": np.float32(0.5), "nan": np.float64("nan"),
                         "when": np.datetime64("2024-01-02T10:00", "m"), "huge": 2**70,
                         "inf": math.inf, "raw": b"\x00\x01", "list": [1, "two"],
                         "pair": (1, 2), "keyed": {12: "a"}, "na": pd.NA,
                         "size": FRAMES["size"]},
              "plain": 42}
    stored = {name: _stored(value) for name, value in values.items()}
    # a tag of a later version, as raw JSON (the codec would not write it)
    future = {"x": {"__v6__": "future.thing", "data": [1]}}
    stored["unknown"] = base64.b64encode(json.dumps(future).encode()).decode("ascii")
    decoded = page.evaluate(_DECODE, stored)
    for name, array in ARRAYS.items():
        assert decoded[name]["kind"] == "value", name
        assert json.loads(decoded[name]["text"]) == expected_text.array(
            serialization.loads(serialization.dumps(array))), name
    nested = json.loads(decoded["nested"]["text"])
    assert nested["n"] == 3 and nested["f"] == 0.5 and nested["nan"] == "NaN"
    assert nested["when"] == str(np.datetime64("2024-01-02T10:00", "m"))
    assert nested["huge"] == str(2**70)  # exact, not rounded to a JSON number
    assert nested["inf"] == "Infinity" and nested["raw"]["length"] == 2
    assert nested["list"] == [1, "two"] and nested["pair"] == [1, 2]
    assert nested["keyed"] == {"12": "a"} and nested["na"] is None
    size = expected_text.table(FRAMES["size"])
    assert nested["size"]["Series"]["data"] == [[expected_text.cell(v) for v in row[2:]]
                                                for row in size["rows"]]
    unknown = json.loads(decoded["unknown"]["text"])
    assert unknown["x"] == {"unknownTag": "future.thing",
                            "raw": {"__v6__": "future.thing", "data": [1]}}
    assert decoded["plain"] == {"kind": "value", "text": "42"}
