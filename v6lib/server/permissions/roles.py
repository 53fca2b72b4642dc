"""The default roles every server starts with, as rule lists over the catalogue."""

from __future__ import annotations

from v6lib.server.permissions.rules import CATALOGUE, RuleKey

__all__ = ["DEFAULT_ROLES", "ROOT_ROLE"]

ROOT_ROLE = "Root"


def _pick(spec: dict[str, dict[str, tuple[str, ...]]]) -> tuple[RuleKey, ...]:
    """``{resource: {scope: operations}}`` to rule keys, checked against the catalogue."""
    keys = tuple(
        RuleKey(resource, scope, operation)
        for resource, scopes in spec.items()
        for scope, operations in scopes.items()
        for operation in operations
    )
    unknown = set(keys) - set(CATALOGUE)
    if unknown:  # pragma: no cover - guards edits of this module
        raise ValueError(f"default role uses rules not in the catalogue: {sorted(unknown)}")
    return keys


Spec = dict[str, dict[str, tuple[str, ...]]]


def _extend(base: Spec, extra: Spec) -> Spec:
    """``base`` plus ``extra``: each higher role holds every rule of the role below it."""
    merged = {resource: dict(scopes) for resource, scopes in base.items()}
    for resource, scopes in extra.items():
        target = merged.setdefault(resource, {})
        for scope, operations in scopes.items():
            target[scope] = tuple(dict.fromkeys((*target.get(scope, ()), *operations)))
    return merged


_V, _VED = ("view",), ("view", "edit", "delete")
_ALL = ("view", "create", "edit", "delete")

_VIEWER: Spec = {
    "user": {"organization": _V},
    "organization": {"collaboration": _V},
    "collaboration": {"collaboration": _V},
    "role": {"organization": _V},
    "node": {"organization": _V},
    "task": {"organization": _V},
    "run": {"organization": _V},
    "study": {"collaboration": _V},
    "event": {"organization": ("receive",)},
    "rule": {"global": _V},
}

_RESEARCHER = _extend(_VIEWER, {
    "user": {"organization": _V, "own": ("view", "edit")},
    "task": {"collaboration": ("create",), "own": ("view", "delete")},
})

_ORG_ADMIN = _extend(_RESEARCHER, {
    "user": {"organization": (*_VED, "create")},
    "organization": {"organization": ("view", "edit"), "collaboration": _V},
    "role": {"organization": _ALL},
    "node": {"organization": ("view", "edit")},
    "task": {"organization": ("delete",)},
})

_COLLAB_ADMIN = _extend(_ORG_ADMIN, {
    "user": {"organization": (*_VED, "create"), "collaboration": _V},
    "collaboration": {"collaboration": ("view", "edit")},
    "node": {"collaboration": _ALL},
    "task": {"collaboration": ("view", "create", "delete")},
    "run": {"collaboration": _V},
    "study": {"collaboration": _ALL},
    "event": {"collaboration": ("receive",)},
})

# name -> (description, rules)
DEFAULT_ROLES: dict[str, tuple[str, tuple[RuleKey, ...]]] = {
    ROOT_ROLE: ("Every rule of the server.", CATALOGUE),
    "Collaboration Admin": (
        "Manages the collaborations of its organization: nodes, studies and tasks.",
        _pick(_COLLAB_ADMIN),
    ),
    "Organization Admin": (
        "Manages its organization's users, roles and nodes; runs tasks.",
        _pick(_ORG_ADMIN),
    ),
    "Researcher": ("Creates tasks and views its organization's results.", _pick(_RESEARCHER)),
    "Viewer": ("Views its organization's tasks, results and members.", _pick(_VIEWER)),
}
