"""Every-start seeding: the rule catalogue, default roles and the generated root password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from v6lib.server.auth.passwords import TEST_COST, check_password_policy
from v6lib.server.bootstrap import bootstrap
from v6lib.server.db.base import Base
from v6lib.server.db.engine import make_engine
from v6lib.server.db.models import Organization, Role, Rule, role_rule
from v6lib.server.permissions.rules import CATALOGUE, RuleKey


def test_rules_dropped_from_the_catalogue_are_removed_with_their_grants(
        sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        bootstrap(session, root_username="root", root_password="Root-pass-1234!",
                  kdf_cost=TEST_COST)
        # a database seeded by an older version, which still had "event send"
        old = Rule(name="event", scope="collaboration", operation="send")
        org = session.scalars(select(Organization)).first()
        assert org is not None
        session.add(Role(name="senders", organization_id=org.id, rules=[old]))
        session.commit()
        bootstrap(session, root_username="root", root_password="Root-pass-1234!",
                  kdf_cost=TEST_COST)
        session.commit()
        keys = {RuleKey(r.name, r.scope, r.operation) for r in session.scalars(select(Rule))}
        assert keys == set(CATALOGUE)
        assert ("event", "collaboration", "send") not in keys
        role = session.scalars(select(Role).where(Role.name == "senders")).one()
        assert role.rules == []
        assert session.execute(select(role_rule)).all()  # other grants are kept
    engine.dispose()


def test_generated_root_password_meets_the_default_policy(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        result = bootstrap(session, root_username="root", root_password=None,
                           kdf_cost=TEST_COST)
        assert result.root_password
        check_password_policy(result.root_password)
    engine.dispose()
