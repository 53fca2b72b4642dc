"""User and role payloads accept vantage6's field names beside v6lib's."""

from __future__ import annotations

from v6lib.schemas.role import RoleIn, RolePatch
from v6lib.schemas.user import UserIn, UserPatch


def test_user_accepts_roles_and_rules_as_vantage6_names_them() -> None:
    user = UserIn.model_validate({"username": "u", "password": "p", "roles": [1, 2],
                                  "rules": None, "email": None, "organization_id": 3})
    assert (user.role_ids, user.rule_ids) == ([1, 2], [])
    assert UserPatch.model_validate({"roles": [4]}).role_ids == [4]


def test_role_accepts_rules_as_vantage6_names_them() -> None:
    role = RoleIn.model_validate({"name": "r", "description": None, "rules": [5],
                                  "organization_id": 1})
    assert role.rule_ids == [5]
    assert RolePatch.model_validate({"rules": [6]}).rule_ids == [6]


def test_v6lib_names_stay_what_is_documented() -> None:
    assert "role_ids" in UserIn.model_json_schema()["properties"]
    assert UserIn.model_validate({"username": "u", "password": "p",
                                  "role_ids": [1]}).role_ids == [1]
