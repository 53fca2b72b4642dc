"""What the caller may do: its rules and the reach of its organization, for interfaces.

A web page or another client reads this once after logging in to hide what the caller
may not do. It is a convenience only: the server checks every request anyway.
"""

from __future__ import annotations

from ._base import OutModel

__all__ = ["PermissionsOut", "RuleGrant"]


class RuleGrant(OutModel):
    """One rule the caller holds: ``name`` is the resource, as in the rule catalogue."""

    name: str
    scope: str
    operation: str


class PermissionsOut(OutModel):
    """The inputs of the permission engine's ``can`` for the caller."""

    kind: str
    user_id: int | None = None
    organization_id: int
    collaboration_ids: list[int]
    #: organizations that share a collaboration with the caller's (its own included)
    collab_org_ids: list[int]
    rules: list[RuleGrant]
