"""Who is calling: a user (with its effective rules), a node, or an algorithm container.

Nodes and containers hold no database rules; they get a fixed rule set here so the
one policy engine can judge every caller the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from v6lib.server.db.models import (
    Collaboration,
    Node,
    User,
    collaboration_organization,
)
from v6lib.server.permissions.rules import CATALOGUE, RuleKey

__all__ = ["CONTAINER_RULES", "NODE_RULES", "Principal", "load_user_principal",
           "node_principal"]

_COL = "collaboration"

NODE_RULES: frozenset[RuleKey] = frozenset(
    [RuleKey(r, _COL, "view")
     for r in ("organization", "collaboration", "node", "task", "run", "study")]
    + [RuleKey("event", "organization", "receive")]
)

CONTAINER_RULES: frozenset[RuleKey] = frozenset(
    [RuleKey(r, _COL, "view")
     for r in ("organization", "collaboration", "node", "task", "run", "study")]
    + [RuleKey("task", _COL, "create")]
)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    kind: str  # "user" | "node" | "container"
    organization_id: int
    collaboration_ids: frozenset[int]
    # organizations that share at least one collaboration with ours (ours included)
    collab_org_ids: frozenset[int]
    rules: frozenset[RuleKey]
    user_id: int | None = None
    node_id: int | None = None
    run_id: int | None = None
    task_id: int | None = None
    job_id: int | None = None
    image: str | None = None
    claims: dict[str, object] = field(default_factory=dict, compare=False)

    def scopes(self, resource: str, operation: str) -> set[str]:
        """The scopes at which this caller may do ``operation`` on ``resource``."""
        return {r.scope for r in self.rules if r.name == resource and r.operation == operation}

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    @property
    def is_node(self) -> bool:
        return self.kind == "node"

    @property
    def is_container(self) -> bool:
        return self.kind == "container"

    @property
    def is_root(self) -> bool:
        return self.rules >= frozenset(CATALOGUE)


def _collaboration_context(session: Session,
                           organization_id: int) -> tuple[frozenset[int], frozenset[int]]:
    co = collaboration_organization
    collab_ids = frozenset(
        session.scalars(select(co.c.collaboration_id).where(co.c.organization_id
                                                             == organization_id))
    )
    org_ids: frozenset[int] = frozenset({organization_id})
    if collab_ids:
        org_ids |= frozenset(
            session.scalars(select(co.c.organization_id).where(
                co.c.collaboration_id.in_(collab_ids)))
        )
    return collab_ids, org_ids


def user_rules(user: User) -> frozenset[RuleKey]:
    """Rules from the user's roles plus the rules given to the user directly."""
    rules = {RuleKey(r.name, r.scope, r.operation) for r in user.rules}
    for role in user.roles:
        rules.update(RuleKey(r.name, r.scope, r.operation) for r in role.rules)
    return frozenset(rules)


def load_user_principal(session: Session, user: User) -> Principal:
    collab_ids, org_ids = _collaboration_context(session, user.organization_id)
    return Principal(
        kind="user",
        organization_id=user.organization_id,
        collaboration_ids=collab_ids,
        collab_org_ids=org_ids,
        rules=user_rules(user),
        user_id=user.id,
    )


def _members(session: Session, collaboration_id: int) -> frozenset[int]:
    co = collaboration_organization
    return frozenset(session.scalars(
        select(co.c.organization_id).where(co.c.collaboration_id == collaboration_id)))


def node_principal(session: Session, node: Node) -> Principal:
    return Principal(
        kind="node",
        organization_id=node.organization_id,
        collaboration_ids=frozenset({node.collaboration_id}),
        collab_org_ids=_members(session, node.collaboration_id) | {node.organization_id},
        rules=NODE_RULES,
        node_id=node.id,
    )


def container_principal(session: Session, claims: dict[str, object]) -> Principal:
    """A container's identity comes entirely from its token's claims."""
    collaboration_id = int(claims["collaboration_id"])  # type: ignore[call-overload]
    organization_id = int(claims["organization_id"])  # type: ignore[call-overload]
    if session.get(Collaboration, collaboration_id) is None:
        members: frozenset[int] = frozenset()
    else:
        members = _members(session, collaboration_id)
    return Principal(
        kind="container",
        organization_id=organization_id,
        collaboration_ids=frozenset({collaboration_id}),
        collab_org_ids=members | {organization_id},
        rules=CONTAINER_RULES,
        node_id=_opt_int(claims.get("node_id")),
        run_id=_opt_int(claims.get("run_id")),
        task_id=_opt_int(claims.get("task_id")),
        job_id=_opt_int(claims.get("job_id")),
        image=str(claims.get("image") or ""),
        claims=dict(claims),
    )


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
