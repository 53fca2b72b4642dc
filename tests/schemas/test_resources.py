"""Wire models: strict inputs, base64 and id bounds, and a schema snapshot.

The snapshot makes API changes deliberate: after changing a model on purpose, run
``V6_UPDATE_SNAPSHOTS=1 pytest tests/schemas`` and commit the new snapshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

import v6lib.schemas as schemas
from v6lib.schemas import RecoverLost, RunPatch, TaskIn, UserIn

SNAPSHOT = Path(__file__).with_name("snapshots") / "resource_schemas.json"


def _models() -> dict[str, type[BaseModel]]:
    return {name: obj for name in schemas.__all__
            if isinstance(obj := getattr(schemas, name), type) and issubclass(obj, BaseModel)
            and name not in ("Page",)}


def test_schema_snapshot() -> None:
    current = {name: model.model_json_schema() for name, model in sorted(_models().items())}
    text = json.dumps(current, indent=1, sort_keys=True) + "\n"
    if os.environ.get("V6_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), f"{SNAPSHOT} missing; create it with V6_UPDATE_SNAPSHOTS=1"
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8")) == json.loads(text), \
        "wire schema changed: update the snapshot if this is deliberate"


def test_inputs_reject_unknown_fields() -> None:
    with pytest.raises(PydanticError, match="extra"):
        UserIn.model_validate({"username": "a", "password": "b", "admin": True})


@pytest.mark.parametrize("bad", ["not base64!", "abc", "ab=c"])
def test_base64_fields(bad: str) -> None:
    with pytest.raises(PydanticError):
        RunPatch.model_validate({"status": "completed", "result": bad})
    assert RunPatch.model_validate({"status": "completed", "result": "YWJj"}).result == "YWJj"


def test_ids_are_bounded() -> None:
    with pytest.raises(PydanticError):
        TaskIn.model_validate({"collaboration_id": 2**31, "image": "i",
                               "organizations": [{"id": 1, "input": ""}]})
    with pytest.raises(PydanticError):
        TaskIn.model_validate({"collaboration_id": 0, "image": "i",
                               "organizations": [{"id": 1, "input": ""}]})


def test_task_needs_distinct_organizations() -> None:
    with pytest.raises(PydanticError, match="listed twice"):
        TaskIn.model_validate({"collaboration_id": 1, "image": "i",
                               "organizations": [{"id": 1, "input": ""},
                                                 {"id": 1, "input": ""}]})


def test_recover_lost_needs_username_or_email() -> None:
    with pytest.raises(PydanticError):
        RecoverLost.model_validate({})
    assert RecoverLost.model_validate({"email": "a@b"}).email == "a@b"
    assert RecoverLost.model_json_schema()["anyOf"] == [{"required": ["username"]},
                                                        {"required": ["email"]}]
