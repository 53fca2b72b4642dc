"""The one permission engine: ``can`` for single objects, ``visible_filter`` for lists.

Both read the same scopes from the caller's rules, so what a list shows and what a
GET of one item allows can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import ColumnElement, false, or_, select, true

from v6lib.errors import PermissionDenied
from v6lib.rules.visibility import job_visible
from v6lib.server.db.models import (
    Collaboration,
    Node,
    Organization,
    Role,
    Rule,
    Run,
    Study,
    Task,
    User,
    study_organization,
)
from v6lib.server.permissions.principal import Principal
from v6lib.server.permissions.task_visibility import task_filter

__all__ = ["can", "require", "require_own_organization", "visible_filter"]


def can(
    principal: Principal,
    operation: str,
    resource: str,
    *,
    organization_ids: Iterable[int | None] = (),
    collaboration_id: int | None = None,
    owner_id: int | None = None,
    job_id: int | None = None,
) -> bool:
    """Whether ``principal`` may do ``operation`` on one ``resource``.

    Args:
        organization_ids: the organization(s) the target belongs to.
        collaboration_id: the collaboration the target belongs to, if any.
        owner_id: the user who owns the target (a task's creator, the user itself).
        job_id: the target's job; algorithm containers only reach their own job.
    """
    if principal.is_container and resource in ("task", "run") and \
            not job_visible(principal.job_id, job_id):
        return False
    orgs = {o for o in organization_ids if o is not None}
    for scope in principal.scopes(resource, operation):
        if scope == "global":
            return True
        if scope == "collaboration":
            if collaboration_id is not None:
                if collaboration_id in principal.collaboration_ids:
                    return True
            elif orgs and orgs <= principal.collab_org_ids:
                return True
        if scope == "organization" and principal.organization_id in orgs:
            return True
        if scope == "own" and owner_id is not None and owner_id == principal.user_id:
            return True
    return False


def require(principal: Principal, operation: str, resource: str, **target: object) -> None:
    """``can`` or raise ``PermissionDenied`` naming what was refused."""
    if not can(principal, operation, resource, **target):  # type: ignore[arg-type]
        raise PermissionDenied(f"you may not {operation} this {resource}")


def require_own_organization(principal: Principal, operation: str, resource: str,
                             organization_id: int, doing: str) -> None:
    """Allow only the organization itself (``organization`` scope) or ``global`` scope.

    Why: some rights stay with an organization whatever a collaboration-wide role says:
    the credentials of its nodes and the public key everyone seals its data for. A
    Collaboration Admin of another member could otherwise log in as this organization's
    node and swap its key (and so read its inputs and results).
    """
    scopes = principal.scopes(resource, operation)
    if "global" in scopes:
        return
    if "organization" in scopes and principal.organization_id == organization_id:
        return
    raise PermissionDenied(
        f"only administrators of organization {organization_id} (or root) may {doing}",
        details={"organization_id": organization_id})


def _run(p: Principal, scope: str) -> ColumnElement[bool]:
    if scope == "organization":
        # runs at our organization, and every run of the tasks our organization started
        return or_(Run.organization_id == p.organization_id,
                   Run.task_id.in_(select(Task.id).where(
                       Task.init_org_id == p.organization_id)))
    return Run.task_id.in_(select(Task.id).where(task_filter(p, scope)))


def _organization(p: Principal, scope: str) -> ColumnElement[bool]:
    if scope == "collaboration":
        return Organization.id.in_(p.collab_org_ids)
    return Organization.id == p.organization_id


def _collaboration(p: Principal, scope: str) -> ColumnElement[bool]:
    return Collaboration.id.in_(p.collaboration_ids)


def _user(p: Principal, scope: str) -> ColumnElement[bool]:
    if scope == "collaboration":
        return User.organization_id.in_(p.collab_org_ids)
    if scope == "organization":
        return User.organization_id == p.organization_id
    return User.id == p.user_id if p.user_id is not None else false()


def _role(p: Principal, scope: str) -> ColumnElement[bool]:
    orgs = p.collab_org_ids if scope == "collaboration" else {p.organization_id}
    return or_(Role.organization_id.in_(orgs), Role.organization_id.is_(None))


def _node(p: Principal, scope: str) -> ColumnElement[bool]:
    if scope == "collaboration":
        return Node.collaboration_id.in_(p.collaboration_ids)
    return Node.organization_id == p.organization_id


def _study(p: Principal, scope: str) -> ColumnElement[bool]:
    if scope == "collaboration":
        return Study.collaboration_id.in_(p.collaboration_ids)
    so = study_organization
    return Study.id.in_(select(so.c.study_id).where(so.c.organization_id == p.organization_id))


def _rule(p: Principal, scope: str) -> ColumnElement[bool]:
    return Rule.id.is_not(None)


_FILTERS: dict[str, Callable[[Principal, str], ColumnElement[bool]]] = {
    "task": task_filter,
    "run": _run,
    "organization": _organization,
    "collaboration": _collaboration,
    "user": _user,
    "role": _role,
    "node": _node,
    "study": _study,
    "rule": _rule,
}


def visible_filter(principal: Principal, resource: str,
                   operation: str = "view") -> ColumnElement[bool]:
    """A WHERE clause selecting exactly the rows ``principal`` may ``operation``."""
    scopes = principal.scopes(resource, operation)
    if "global" in scopes:
        clause: ColumnElement[bool] = true()
    elif not scopes:
        return false()
    else:
        build = _FILTERS[resource]
        clause = or_(*(build(principal, scope) for scope in sorted(scopes)))
    if principal.is_container and resource in ("task", "run"):
        job_clause = (Task.job_id == principal.job_id if resource == "task"
                      else Run.task_id.in_(select(Task.id).where(
                          Task.job_id == principal.job_id)))
        return clause & job_clause
    return clause
