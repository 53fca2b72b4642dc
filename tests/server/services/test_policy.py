"""The permission engine on its own: scopes, ownership and container jobs."""

from __future__ import annotations

import pytest

from v6lib.errors import PermissionDenied
from v6lib.server.permissions.policy import can, require
from v6lib.server.permissions.principal import CONTAINER_RULES, NODE_RULES, Principal
from v6lib.server.permissions.roles import DEFAULT_ROLES
from v6lib.server.permissions.rules import CATALOGUE, RuleKey


def _user(*rules: RuleKey, org: int = 1) -> Principal:
    return Principal(kind="user", organization_id=org, collaboration_ids=frozenset({10}),
                     collab_org_ids=frozenset({1, 2}), rules=frozenset(rules), user_id=7)


def test_global_beats_everything() -> None:
    p = _user(RuleKey("task", "global", "view"))
    assert can(p, "view", "task", organization_ids=[99], collaboration_id=99)


def test_collaboration_scope() -> None:
    p = _user(RuleKey("task", "collaboration", "view"))
    assert can(p, "view", "task", collaboration_id=10)
    assert not can(p, "view", "task", collaboration_id=11)
    user_rule = _user(RuleKey("user", "collaboration", "view"))
    assert can(user_rule, "view", "user", organization_ids=[2])
    assert not can(user_rule, "view", "user", organization_ids=[3])


def test_organization_and_own_scope() -> None:
    p = _user(RuleKey("task", "organization", "view"), RuleKey("task", "own", "delete"))
    assert can(p, "view", "task", organization_ids=[1])
    assert not can(p, "view", "task", organization_ids=[2])
    assert can(p, "delete", "task", owner_id=7)
    assert not can(p, "delete", "task", owner_id=8, organization_ids=[1])


def test_require_names_what_was_refused() -> None:
    with pytest.raises(PermissionDenied, match="create this organization"):
        require(_user(), "create", "organization")


def test_container_limited_to_its_job() -> None:
    p = Principal(kind="container", organization_id=1, collaboration_ids=frozenset({10}),
                  collab_org_ids=frozenset({1, 2}), rules=CONTAINER_RULES, job_id=5)
    assert can(p, "view", "task", collaboration_id=10, job_id=5)
    assert not can(p, "view", "task", collaboration_id=10, job_id=6)
    assert can(p, "create", "task", collaboration_id=10, job_id=5)


def test_node_rules_are_read_only() -> None:
    assert all(r.operation in ("view", "receive") for r in NODE_RULES)


def test_default_roles_are_nested_and_in_catalogue() -> None:
    sets = {name: set(rules) for name, (_, rules) in DEFAULT_ROLES.items()}
    assert sets["Viewer"] < sets["Researcher"] < sets["Organization Admin"]
    assert sets["Organization Admin"] < sets["Collaboration Admin"] < sets["Root"]
    assert sets["Root"] == set(CATALOGUE)
    assert all(r.operation == "view" or r.name == "event" for r in sets["Viewer"])
