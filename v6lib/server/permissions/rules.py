"""The rule catalogue: every (resource, scope, operation) a rule can grant.

Scopes read, narrowest first: ``own`` (things the user made or is), ``organization``
(things of the user's organization), ``collaboration`` (things of any collaboration
the user's organization takes part in) and ``global`` (everything).
"""

from __future__ import annotations

from typing import NamedTuple

from v6lib.schemas.rule import Operation, Resource, Scope

__all__ = ["CATALOGUE", "RuleKey"]

OWN, ORG, COL, G = Scope.OWN, Scope.ORGANIZATION, Scope.COLLABORATION, Scope.GLOBAL
VIEW, CREATE, EDIT, DELETE = Operation.VIEW, Operation.CREATE, Operation.EDIT, Operation.DELETE
RECEIVE = Operation.RECEIVE


class RuleKey(NamedTuple):
    """A rule by value: ``name`` is the resource, as in vantage6."""

    name: str
    scope: str
    operation: str


def _grid(resource: Resource, scopes: tuple[Scope, ...],
          operations: tuple[Operation, ...]) -> list[RuleKey]:
    return [RuleKey(resource.value, s.value, o.value) for s in scopes for o in operations]


CATALOGUE: tuple[RuleKey, ...] = (
        *_grid(Resource.USER, (OWN, ORG, COL, G), (VIEW, EDIT, DELETE)),
        *_grid(Resource.USER, (ORG, COL, G), (CREATE,)),
        *_grid(Resource.ORGANIZATION, (ORG, COL, G), (VIEW, EDIT)),
        *_grid(Resource.ORGANIZATION, (G,), (CREATE,)),
        *_grid(Resource.COLLABORATION, (COL, G), (VIEW, EDIT, DELETE)),
        *_grid(Resource.COLLABORATION, (G,), (CREATE,)),
        *_grid(Resource.ROLE, (ORG, COL, G), (VIEW, CREATE, EDIT, DELETE)),
        *_grid(Resource.NODE, (ORG, COL, G), (VIEW, CREATE, EDIT, DELETE)),
        *_grid(Resource.TASK, (OWN, ORG, COL, G), (VIEW, DELETE)),
        *_grid(Resource.TASK, (COL, G), (CREATE,)),
        *_grid(Resource.RUN, (OWN, ORG, COL, G), (VIEW,)),
        *_grid(Resource.STUDY, (ORG, COL, G), (VIEW,)),
        *_grid(Resource.STUDY, (COL, G), (CREATE, EDIT, DELETE)),
        # NOTE: no "send" rule: events are made by the server, never posted by callers
        *_grid(Resource.EVENT, (ORG, COL, G), (RECEIVE,)),
        *_grid(Resource.RULE, (G,), (VIEW,)),
    )
