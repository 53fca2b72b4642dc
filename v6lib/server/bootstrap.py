"""First-start and every-start database setup: rules, default roles, root account.

Idempotent: running it again adds what is missing and changes nothing else, except
that default roles are brought back to their defined rule sets and rules the catalogue
no longer defines are removed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from v6lib.server.auth.passwords import DEFAULT_COST, KdfCost, hash_secret
from v6lib.server.db.models import (
    Organization,
    Role,
    Rule,
    User,
    role_rule,
    user_rule,
)
from v6lib.server.permissions.roles import DEFAULT_ROLES, ROOT_ROLE
from v6lib.server.permissions.rules import CATALOGUE, RuleKey

__all__ = ["BootstrapResult", "bootstrap", "ensure_rules"]

ROOT_ORGANIZATION = "root"


@dataclass(frozen=True)
class BootstrapResult:
    """What a start created; ``root_password`` is set only when it was generated now."""

    root_user_id: int
    root_password: str | None


def ensure_rules(session: Session) -> dict[RuleKey, Rule]:
    """Add catalogue rules the database lacks; drop rules the catalogue no longer has
    (e.g. ``event send``), with their grants to roles and users."""
    existing = {RuleKey(r.name, r.scope, r.operation): r
                for r in session.scalars(select(Rule))}
    stale = [rule for key, rule in existing.items() if key not in set(CATALOGUE)]
    if stale:
        ids = [rule.id for rule in stale]
        session.execute(delete(role_rule).where(role_rule.c.rule_id.in_(ids)))
        session.execute(delete(user_rule).where(user_rule.c.rule_id.in_(ids)))
        session.execute(delete(Rule).where(Rule.id.in_(ids)))
        session.expire_all()
        existing = {key: rule for key, rule in existing.items() if key in set(CATALOGUE)}
    for key in CATALOGUE:
        if key not in existing:
            rule = Rule(name=key.name, scope=key.scope, operation=key.operation)
            session.add(rule)
            existing[key] = rule
    session.flush()
    return existing


def ensure_default_roles(session: Session, rules: dict[RuleKey, Rule]) -> dict[str, Role]:
    roles = {r.name: r for r in session.scalars(select(Role).where(
        Role.organization_id.is_(None)))}
    for name, (description, keys) in DEFAULT_ROLES.items():
        role = roles.get(name)
        if role is None:
            role = Role(name=name, description=description, organization_id=None)
            session.add(role)
            roles[name] = role
        role.rules = [rules[k] for k in keys]
    session.flush()
    return roles


def bootstrap(session: Session, *, root_username: str, root_password: str | None,
              kdf_cost: KdfCost = DEFAULT_COST) -> BootstrapResult:
    """Seed rules and roles; create the root organization and user when missing."""
    rules = ensure_rules(session)
    roles = ensure_default_roles(session, rules)
    user = session.scalars(select(User).where(User.username == root_username)).first()
    generated: str | None = None
    if user is None:
        org = session.scalars(select(Organization).where(
            Organization.name == ROOT_ORGANIZATION)).first()
        if org is None:
            org = Organization(name=ROOT_ORGANIZATION)
            session.add(org)
            session.flush()
        password = root_password
        if not password:
            # NOTE: the suffix makes a generated password meet the default policy too
            password = generated = secrets.token_urlsafe(18) + "-Aa1"
        user = User(username=root_username, organization_id=org.id,
                    password_hash=hash_secret(password, cost=kdf_cost),
                    roles=[roles[ROOT_ROLE]])
        session.add(user)
        session.flush()
    return BootstrapResult(root_user_id=user.id, root_password=generated)
