"""Which tasks a caller may see, written once and compiled two ways.

A scope names where visible task ids come from ("sources"): a condition on the task
itself (its collaboration, initiating organization or user) or on one of its runs (a
run at the caller's organization). The policy engine ORs the sources into a WHERE
clause for checks of single tasks; task lists take the UNION of the sources instead.

Why two forms: ORed with a subquery on ``run``, the WHERE clause leaves a database no
index that yields the tasks in id order, so a page of a list made it read and sort every
visible task (25 ms with 10,000 tasks on SQLite). Each source on its own is one range of
an index ordered by task id; a page takes the first ``offset + per_page`` ids of every
source and merges them, and the total counts the union of the ranges, reading indexes only.

Why no source is dropped as covered by another (say "my organization's tasks" by "my
collaborations' tasks"): the data model does not guarantee it. An organization that leaves
a collaboration keeps the tasks it started there and its runs of them, and a subtask's
initiating organization is the node's that ran its parent, not its owner's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    exists,
    false,
    func,
    or_,
    select,
    true,
    union,
)

from v6lib.server.db.models import Run, Task
from v6lib.server.permissions.principal import Principal

__all__ = ["TaskSource", "task_filter", "task_sources", "visible_task_count",
           "visible_task_ids"]


@dataclass(frozen=True)
class TaskSource:
    """Tasks matching ``condition``: on the task, or (``via_run``) on one of its runs.

    ``never_null``: the condition is never NULL for a task (its column is NOT NULL), so
    its negation is exactly the tasks the source does not give.
    """

    condition: ColumnElement[bool]
    via_run: bool = False
    never_null: bool = False

    def excluded(self) -> ColumnElement[bool]:
        """A condition on ``task``: the tasks this source does not give."""
        if self.via_run:
            return ~exists().where(Run.task_id == Task.id, self.condition)
        assert self.never_null, "NOT of a NULL condition would drop tasks"
        return ~self.condition


def task_sources(principal: Principal, scope: str) -> list[TaskSource]:
    """Where the tasks ``principal`` may reach at ``scope`` come from."""
    if scope == "global":
        return [TaskSource(true())]
    if scope == "collaboration":
        return [TaskSource(Task.collaboration_id.in_(principal.collaboration_ids),
                           never_null=True)]
    if scope == "organization":
        # tasks our organization started, and tasks with a run at our organization
        org = principal.organization_id
        return [TaskSource(Task.init_org_id == org),
                TaskSource(Run.organization_id == org, via_run=True)]
    if principal.user_id is None:  # "own" for a caller that is no user: nothing
        return []
    return [TaskSource(Task.init_user_id == principal.user_id)]


def _job_condition(principal: Principal) -> list[ColumnElement[bool]]:
    """An algorithm container reaches its own job's tasks only, whatever its scopes."""
    return [Task.job_id == principal.job_id] if principal.is_container else []


def task_filter(principal: Principal, scope: str) -> ColumnElement[bool]:
    """A WHERE clause on ``task`` for the tasks ``principal`` may reach at ``scope``."""
    clauses = [source.condition if not source.via_run
               else exists().where(Run.task_id == Task.id, source.condition)
               for source in task_sources(principal, scope)]
    return or_(*clauses) if clauses else false()


def _branch(source: TaskSource, conditions: Sequence[ColumnElement[bool]],
            limit: int | None, union_member: bool) -> Select[Any]:
    if source.via_run:
        stmt = select(Run.task_id.label("id")).where(source.condition)
        if limit is not None or not union_member:
            # NOTE: a task may have several runs that match; in a UNION the union's own
            # deduplication is enough, a second one in the branch only costs
            stmt = stmt.distinct()
        if conditions:
            stmt = stmt.join(Task, Task.id == Run.task_id).where(*conditions)
        key = Run.task_id
    else:
        stmt = select(Task.id.label("id")).where(source.condition, *conditions)
        key = Task.id
    if limit is None:
        return stmt
    # NOTE: wrapped, as SQLite refuses ORDER BY/LIMIT on a member of a UNION
    return select(stmt.order_by(key).limit(limit).subquery().c.id)


def _sources(principal: Principal, operation: str) -> list[TaskSource]:
    scopes = principal.scopes("task", operation)
    # NOTE: global covers every other scope; one branch reads the primary key alone
    return [source for scope in (["global"] if "global" in scopes else sorted(scopes))
            for source in task_sources(principal, scope)]


def _ids(sources: Sequence[TaskSource], wanted: Sequence[ColumnElement[bool]],
         limit: int | None) -> Select[Any] | CompoundSelect:
    branches = [_branch(source, wanted, limit, len(sources) > 1) for source in sources]
    if not branches:
        return select(Task.id.label("id")).where(false())
    return branches[0] if len(branches) == 1 else union(*branches)


def visible_task_ids(principal: Principal, operation: str,
                     conditions: Iterable[ColumnElement[bool]] = (), *,
                     limit: int | None = None) -> Select[Any] | CompoundSelect:
    """The ids of the tasks ``principal`` may ``operation`` that meet ``conditions``.

    With ``limit``, each source gives only its ``limit`` lowest ids: enough for any page
    that ends at or before ``limit`` in id order, and read from the start of an index.
    """
    wanted = [*conditions, *_job_condition(principal)]
    return _ids(_sources(principal, operation), wanted, limit)


def _count(ids: Select[Any] | CompoundSelect, dialect: str) -> Select[Any]:
    if dialect == "sqlite" and isinstance(ids, CompoundSelect):
        ids = ids.order_by(ids.selected_columns.id)
    return select(func.count()).select_from(ids.subquery())


def visible_task_count(principal: Principal, operation: str,
                       conditions: Iterable[ColumnElement[bool]] = (), *,
                       dialect: str) -> Select[Any]:
    """How many tasks ``principal`` may ``operation`` that meet ``conditions``: exact, in SQL.

    A union pays for every id its sources repeat, and the sources of a role repeat one
    another a lot (my collaborations' tasks mostly have a run at my organization too). So
    one large source (the collaborations; on SQLite else the runs at my organization) is
    counted alone, and added to the count of the other sources' tasks that it does not
    give: two disjoint parts, so the sum is exact. (PostgreSQL plans "no run at my
    organization" as a hash of all those runs: one union costs it less.)

    On SQLite a union is asked for in id order: SQLite then merges the sources' index
    ranges, each already in id order, instead of inserting every id into a temporary
    B-tree. PostgreSQL (``dialect`` is the database's) hashes an unordered union faster
    than it sorts one, so it is not asked to.
    """
    wanted = [*conditions, *_job_condition(principal)]
    sources = _sources(principal, operation)
    anchor = next((s for s in sources  # (a collaboration source comes first: sorted scopes)
                   if s.never_null or (s.via_run and dialect == "sqlite")), None)
    if anchor is None or len(sources) == 1:
        return _count(_ids(sources, wanted, None), dialect)
    others = [source for source in sources if source is not anchor]
    alone = _count(_ids([anchor], wanted, None), dialect)
    rest = _count(_ids(others, [*wanted, anchor.excluded()], None), dialect)
    return select(alone.scalar_subquery() + rest.scalar_subquery())
