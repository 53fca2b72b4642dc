"""Role payloads: a named bundle of rules, global or owned by one organization."""

from __future__ import annotations

from pydantic import Field

from ._base import DbId, IdList, InModel, OutModel, vantage6_name

__all__ = ["RoleIn", "RoleOut", "RolePatch"]


class RoleIn(InModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    organization_id: DbId | None = None  # defaults to the caller's organization
    rule_ids: IdList = Field(default_factory=list,
                             validation_alias=vantage6_name("rule_ids", "rules"))


class RolePatch(InModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    rule_ids: list[DbId] | None = Field(default=None,
                                        validation_alias=vantage6_name("rule_ids", "rules"))


class RoleOut(OutModel):
    id: int
    name: str
    description: str | None = None
    organization_id: int | None = None
    rule_ids: list[int]
