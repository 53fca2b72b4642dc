"""Task lists of every default role: the right tasks, read through indexes (EXPLAIN).

One database per backend with 10,000 tasks is shared by the module: organization A starts
most tasks with runs at A, B and C; B starts some with runs at B and C only; a researcher
of B owns a few tasks started at C (as a subtask of its job would be), a second
collaboration holds tasks B cannot see at all, and a third one, which B has left, holds
tasks B started, tasks with a run at B, the researcher's and others B cannot see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, text
from sqlalchemy.orm import Session

from tests.postgres import drop_database, fresh_postgres_url
from v6lib.server.db.engine import make_engine
from v6lib.server.db.migrate import upgrade_database
from v6lib.server.db.models import Collaboration, Organization, Run, Task, User
from v6lib.server.permissions.principal import Principal
from v6lib.server.permissions.roles import DEFAULT_ROLES
from v6lib.server.permissions.task_visibility import visible_task_count
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.tasks import list_tasks

N_TASKS = 10_000
ROLES = list(DEFAULT_ROLES)


@dataclass
class Fixture:
    engine: Engine
    orgs: list[int]  # A, B, C, D (D only in the second collaboration)
    collabs: list[int]
    researcher: int  # a user of B
    # task id -> (collaboration, initiating org, initiating user, run orgs)
    tasks: dict[int, tuple[int, int, int | None, tuple[int, ...]]]


def _build(engine: Engine) -> Fixture:
    upgrade_database(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        orgs = [Organization(name=f"org-{n}", created_at=now) for n in "abcd"]
        session.add_all(orgs)
        session.flush()
        one = Collaboration(name="one", encrypted=False, organizations=orgs[:3])
        two = Collaboration(name="two", encrypted=False, organizations=[orgs[0], orgs[3]])
        # B has left "three": its tasks there stay B's, though B sees no longer all of it
        three = Collaboration(name="three", encrypted=False, organizations=[orgs[2]])
        user = User(username="r", password_hash="x", organization_id=orgs[1].id)
        session.add_all([one, two, three, user])
        session.flush()
        a, b, c, d = (o.id for o in orgs)
        tasks: dict[int, tuple[int, int, int | None, tuple[int, ...]]] = {}
        for i in range(1, N_TASKS + 1):
            if i % 10 == 3:
                tasks[i] = (one.id, b, None, (b, c))
            elif i % 500 == 7:
                tasks[i] = (one.id, c, user.id, (c,))  # the researcher's, started at C
            elif i % 50 == 9:
                tasks[i] = (two.id, a, None, (a, d))
            elif i % 100 == 11:  # in "three", which B left: started by B,
                tasks[i] = (three.id, b, None, (c,))
            elif i % 100 == 15:  # with a run at B,
                tasks[i] = (three.id, c, None, (b, c))
            elif i % 500 == 21:  # the researcher's,
                tasks[i] = (three.id, c, user.id, (c,))
            elif i % 100 == 25:  # and one B does not see
                tasks[i] = (three.id, c, None, (c,))
            else:
                tasks[i] = (one.id, a, None, (a, b, c))
        session.execute(insert(Task), [
            {"id": i, "uid": f"u{i}", "name": f"t{i}", "description": "", "image": "img",
             "collaboration_id": col, "init_org_id": org, "init_user_id": usr, "job_id": i,
             "databases": [], "status": "completed", "created_at": now}
            for i, (col, org, usr, _) in tasks.items()])
        session.execute(insert(Run), [
            {"task_id": i, "organization_id": o, "status": "completed", "input": ""}
            for i, (_, _, _, runs) in tasks.items() for o in runs])
        session.commit()
        fixture = Fixture(engine, [a, b, c, d], [one.id, two.id, three.id], user.id, tasks)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does for a live server
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return fixture


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('visibility') / 'server.sqlite'}"
    else:
        url = fresh_postgres_url()
    engine = make_engine(url)
    try:
        yield _build(engine)
    finally:
        engine.dispose()
        if request.param == "postgres":
            drop_database(url)


def _principal(world: Fixture, role: str) -> Principal:
    rules = frozenset(DEFAULT_ROLES[role][1])
    b = world.orgs[1]
    return Principal(kind="user", organization_id=b, user_id=world.researcher,
                     collaboration_ids=frozenset({world.collabs[0]}),
                     collab_org_ids=frozenset(world.orgs[:3]), rules=rules)


def _expected(world: Fixture, p: Principal) -> list[int]:
    """The visibility rule spelled out in Python, task by task."""
    scopes = p.scopes("task", "view")
    seen = []
    for task_id, (col, org, usr, runs) in world.tasks.items():
        if ("global" in scopes
                or ("collaboration" in scopes and col in p.collaboration_ids)
                or ("organization" in scopes and (org == p.organization_id
                                                  or p.organization_id in runs))
                or ("own" in scopes and usr == p.user_id)):
            seen.append(task_id)
    return seen


@contextmanager
def _recording(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) sent to ``engine`` meanwhile, BEGIN aside."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.strip().upper() != "BEGIN":
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _list(world: Fixture, p: Principal, page: int, per_page: int,
          **filters: Any) -> tuple[list[int], int, list[tuple[str, Any]]]:
    with _recording(world.engine) as statements, Session(world.engine) as session:
        ctx = ServiceContext(session=session, tokens=None,  # type: ignore[arg-type]
                             events=None, principal=p)  # type: ignore[arg-type]
        rows, total = list_tasks(ctx, page=page, per_page=per_page, **filters)
    return [t.id for t in rows], total, statements


@pytest.mark.parametrize("role", ROLES)
def test_every_role_lists_exactly_its_tasks(world: Fixture, role: str) -> None:
    p = _principal(world, role)
    expected = _expected(world, p)
    for page, per_page in ((1, 10), (7, 25), (len(expected) // 100 + 1, 100)):
        ids, total, statements = _list(world, p, page, per_page)
        assert total == len(expected)
        assert ids == expected[(page - 1) * per_page: page * per_page]
        # the total rides along a page; one past the end has no row to carry it
        assert len(statements) == (1 if ids else 2), statements
    started_at_c = [t for t in expected if world.tasks[t][1] == world.orgs[2]]
    ids, total, _ = _list(world, p, 2, 5, init_org_id=world.orgs[2])
    assert (ids, total) == (started_at_c[5:10], len(started_at_c))
    # of a collaboration its organization left, it counts exactly what it may still see
    in_three = [t for t in expected if world.tasks[t][0] == world.collabs[2]]
    ids, total, _ = _list(world, p, 1, 10, collaboration_id=world.collabs[2])
    assert (ids, total) == (in_three[:10], len(in_three))
    ids, total, statements = _list(world, p, len(expected) // 10 + 2, 10)
    assert (ids, total, len(statements)) == ([], len(expected), 2)
    ids, total, statements = _list(world, p, 3, 10, sort="-id")
    assert (ids, total, len(statements)) == (expected[::-1][20:30], len(expected), 1)
    ids, total, statements = _list(world, p, len(expected) // 10 + 2, 10, sort="-id")
    assert (ids, total, len(statements)) == ([], len(expected), 2)


def test_a_collaboration_admin_of_no_collaboration_counts_its_other_tasks(
        world: Fixture) -> None:
    """With no collaboration left, "not in my collaborations" is every task: nothing of
    the organization's or the user's own tasks is lost from the count, nothing added."""
    p = replace(_principal(world, "Collaboration Admin"), collaboration_ids=frozenset())
    expected = _expected(world, p)
    assert 0 < len(expected) < N_TASKS
    ids, total, _ = _list(world, p, 2, 10)
    assert (ids, total) == (expected[10:20], len(expected))


def _sqlite_plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return [row[3] for row in rows]


def _postgres_plan(engine: Engine, statement: str, parameters: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        raw = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}",
                                   parameters).scalar()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return dict(plan[0]["Plan"])


def _nodes(plan: dict[str, Any], *, subplans: bool = True) -> Iterator[dict[str, Any]]:
    """The nodes of a plan; without ``subplans``, not those of its scalar subqueries."""
    yield plan
    for child in plan.get("Plans", []):
        if subplans or child.get("Parent Relationship") not in ("InitPlan", "SubPlan"):
            yield from _nodes(child, subplans=subplans)


@pytest.mark.parametrize("role", ["Researcher", "Viewer", "Organization Admin",
                                  "Collaboration Admin"])
def test_the_first_page_reads_indexes_not_every_task(world: Fixture, role: str) -> None:
    """The page query of a user who sees 10,000 tasks through runs and ownership."""
    p = _principal(world, role)
    _, _, statements = _list(world, p, 1, 10)
    page = next(s for s in statements if "LIMIT" in s[0])
    if world.engine.dialect.name == "sqlite":
        plan = _sqlite_plan(world.engine, *page)
        full_scans = [line for line in plan if re.match(r"SCAN (task|run)\b", line)]
        assert not full_scans, plan
        assert not any("TEMP B-TREE FOR ORDER BY" in line for line in plan), plan
        return
    # the total it carries is the count's own test below
    nodes = list(_nodes(_postgres_plan(world.engine, *page), subplans=False))
    seq_scans = [n for n in nodes if n["Node Type"] == "Seq Scan"
                 and n.get("Relation Name") in ("task", "run")]
    assert not seq_scans, seq_scans
    # whatever the plan, no node handles more than the few ids each source gives
    busiest = max(n["Actual Rows"] * n.get("Actual Loops", 1) for n in nodes)
    assert busiest <= 100, [(n["Node Type"], n["Actual Rows"]) for n in nodes]


@pytest.mark.parametrize("role", ["Researcher", "Viewer", "Organization Admin",
                                  "Collaboration Admin"])
def test_the_total_is_counted_in_sql_from_indexes(world: Fixture, role: str) -> None:
    """The count of the tasks of a role with several sources reads index ranges in the
    database (no id comes back to Python); on SQLite no id is sorted or hashed."""
    p = _principal(world, role)
    stmt = visible_task_count(p, "view", dialect=world.engine.dialect.name)
    with _recording(world.engine) as statements, world.engine.connect() as conn:
        assert conn.execute(stmt).all() == [(len(_expected(world, p)),)]
    (count,) = statements
    if world.engine.dialect.name == "sqlite":
        plan = _sqlite_plan(world.engine, *count)
        assert not [line for line in plan if re.match(r"SCAN (task|run)\b", line)], plan
        # no id goes through a temporary B-tree: unions merge sources in id order
        assert not any("TEMP B-TREE" in line for line in plan), plan
        return
    nodes = list(_nodes(_postgres_plan(world.engine, *count)))
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"
                and n.get("Relation Name") == "run"], nodes
    if "collaboration" not in p.scopes("task", "view"):
        # (a whole collaboration may be most of ``task``: a scan of it is then cheapest)
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan"
                    and n.get("Relation Name") == "task"], nodes
