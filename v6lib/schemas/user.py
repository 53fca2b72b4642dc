"""User payloads; passwords go in, never out."""

from __future__ import annotations

from pydantic import Field

from ._base import DbId, IdList, InModel, OutModel, vantage6_name

__all__ = ["UserIn", "UserOut", "UserPatch"]

_Username = Field(min_length=1, max_length=100)


class UserIn(InModel):
    username: str = _Username
    password: str = Field(min_length=1, max_length=1000)
    email: str | None = Field(default=None, max_length=200)
    firstname: str | None = Field(default=None, max_length=100)
    lastname: str | None = Field(default=None, max_length=100)
    organization_id: DbId | None = None  # defaults to the caller's organization
    role_ids: IdList = Field(default_factory=list,
                             validation_alias=vantage6_name("role_ids", "roles"))
    rule_ids: IdList = Field(default_factory=list,
                             validation_alias=vantage6_name("rule_ids", "rules"))


class UserPatch(InModel):
    email: str | None = Field(default=None, max_length=200)
    firstname: str | None = Field(default=None, max_length=100)
    lastname: str | None = Field(default=None, max_length=100)
    role_ids: list[DbId] | None = Field(default=None,
                                        validation_alias=vantage6_name("role_ids", "roles"))
    rule_ids: list[DbId] | None = Field(default=None,
                                        validation_alias=vantage6_name("rule_ids", "rules"))


class UserOut(OutModel):
    id: int
    username: str
    email: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    organization_id: int
    role_ids: list[int]
    rule_ids: list[int]
