"""Organization payloads: a party with users, nodes and a public key for encryption."""

from __future__ import annotations

from pydantic import Field

from ._base import Base64Str, InModel, Name, OutModel

__all__ = ["OrganizationIn", "OrganizationOut", "OrganizationPatch"]

_Short = Field(default=None, max_length=200)


class OrganizationIn(InModel):
    name: Name
    domain: str | None = _Short
    address1: str | None = _Short
    address2: str | None = _Short
    zipcode: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=100)
    public_key: Base64Str | None = None


class OrganizationPatch(InModel):
    name: Name | None = None
    domain: str | None = _Short
    address1: str | None = _Short
    address2: str | None = _Short
    zipcode: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=100)
    public_key: Base64Str | None = None


class OrganizationOut(OutModel):
    id: int
    name: str
    domain: str | None = None
    address1: str | None = None
    address2: str | None = None
    zipcode: str | None = None
    country: str | None = None
    public_key: str | None = None
