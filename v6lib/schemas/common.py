"""Shapes shared by every resource: the list envelope, pagination and error bodies."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ErrorBody", "Links", "Page", "PageParams"]

T = TypeVar("T")


class PageParams(BaseModel):
    """Query parameters every list endpoint accepts."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=10, ge=1, le=1000)


class Links(BaseModel):
    first: str
    self: str
    last: str
    next: str | None = None
    previous: str | None = None


class Page(BaseModel, Generic[T]):
    """``{"data": [...], "links": {...}, "total": n, "page": p, "per_page": k}``."""

    data: list[T]
    links: Links
    total: int
    page: int
    per_page: int


class ErrorBody(BaseModel):
    """What the server answers on any error."""

    code: str
    message: str
    details: dict[str, object] | None = None
    request_id: str | None = None
