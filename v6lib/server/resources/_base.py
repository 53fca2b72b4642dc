"""Shared resource plumbing: body/query parsing with field-naming errors, replies, pages.

Each resource class declares ``api``: method -> ``Op`` (request and response models),
which both drives parsing here and builds the OpenAPI document, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode

import falcon
import pydantic
from pydantic import BaseModel, ConfigDict, Field

from v6lib.errors import PayloadTooLargeError, ValidationError
from v6lib.schemas.common import Links, Page
from v6lib.server import json_limits
from v6lib.server.events.long_polls import SHORT_POLL_PAUSE_SECONDS, LongPollGate, caller_key
from v6lib.server.events.parking import Park
from v6lib.server.services.context import ServiceContext

__all__ = ["ListQuery", "Op", "Resource", "held_while_waiting", "page_reply", "parse_body",
           "parse_query", "reply"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Op:
    """One operation's contract, for parsing and for the OpenAPI document."""

    summary: str
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    paged: bool = False
    auth: bool = True
    errors: tuple[int, ...] = field(default=())


class ListQuery(BaseModel):
    """Pagination parameters; list resources subclass it with their filters."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=10, ge=1, le=1000)
    #: ``name,-id``: fields to order by, ``-`` for descending (``services.sorting``)
    sort: str | None = Field(default=None, min_length=1, max_length=200)


class Resource:
    """Base of every resource; ``auth = False`` opens it to unauthenticated callers."""

    auth: ClassVar[bool] = True
    api: ClassVar[dict[str, Op]] = {}

    @staticmethod
    def ctx(req: falcon.Request) -> ServiceContext:
        ctx: ServiceContext = req.context.ctx
        return ctx


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "(body)"


def _describe(exc: pydantic.ValidationError, where: str) -> ValidationError:
    messages, fields = [], []
    for err in exc.errors(include_url=False):
        name = _field(err["loc"])
        fields.append(name)
        if err["type"] == "extra_forbidden":
            messages.append(f"unknown {where} field '{name}'")
        elif err["type"] == "missing":
            messages.append(f"{where} field '{name}' is required")
        else:
            messages.append(f"{where} field '{name}': {err['msg']}")
    return ValidationError("; ".join(messages),
                           details={"field": fields[0] if fields else None, "fields": fields})


# Secrets are hashed or compared, never stored as given, so NUL does no harm there.
_SECRET_FIELDS = frozenset({"password", "current_password", "new_password", "reset_token",
                            "api_key", "mfa_code"})


def _reject_nul(value: Any, where: str) -> None:
    """NUL characters cannot be stored in PostgreSQL text; refuse them up front."""
    if where in _SECRET_FIELDS:
        return
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError(f"{where}: NUL characters are not allowed",
                                  details={"field": where})
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, where)
            _reject_nul(item, f"{where}.{key}" if where != "body" else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nul(item, f"{where}.{index}")


def parse_body(req: falcon.Request, model: type[M]) -> M:
    """The JSON body validated against ``model``; 400 names the offending field.

    Bodies nested deeper than ``json_limits.MAX_JSON_DEPTH`` are refused before decoding.
    """
    max_bytes: int = getattr(req.context, "max_bytes", 10 * 1024 * 1024)
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLargeError(f"request body is above the limit of {max_bytes} bytes")
    if not raw.strip():
        raise ValidationError("a JSON request body is required")
    data: Any = json_limits.loads(raw)
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    _reject_nul(data, "body")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _describe(exc, "body") from None


def parse_query(req: falcon.Request, model: type[M]) -> M:
    """Query parameters validated against ``model`` (repeated keys are an error)."""
    params: dict[str, Any] = {}
    for key, value in req.params.items():
        if isinstance(value, list):
            raise ValidationError(f"query parameter '{key}' is given more than once",
                                  details={"field": key})
        _reject_nul(value, key)
        params[key] = value
    try:
        return model.model_validate(params)
    except pydantic.ValidationError as exc:
        raise _describe(exc, "query") from None


@contextmanager
def held_while_waiting(long_polls: LongPollGate, ctx: ServiceContext, resp: falcon.Response,
                       timeout: float) -> Iterator[float]:
    """A long-poll slot for the caller; yields how long its request may wait.

    A request that does not wait (``timeout`` 0) needs no slot. When every slot is
    taken, the request is answered at once (yields 0) with ``Retry-After`` as a hint.
    """
    if timeout <= 0:
        yield timeout
        return
    with long_polls.hold(caller_key(ctx.me)) as granted:
        if not granted:
            resp.set_header("Retry-After", str(SHORT_POLL_PAUSE_SECONDS))
        yield timeout if granted else 0.0


def park_until(park: Park, long_polls: LongPollGate, ctx: ServiceContext,
               resp: falcon.Response, keys: Iterable[str], *, cursor: int,
               timeout: float) -> None:
    """After a reply with nothing new: have the event-loop front hold the request.

    When every slot is taken the reply goes out now, with ``Retry-After`` as a hint,
    exactly as ``held_while_waiting`` does for a thread.
    """
    if not park.wait_on(long_polls, caller_key(ctx.me), keys, cursor=cursor, timeout=timeout):
        resp.set_header("Retry-After", str(SHORT_POLL_PAUSE_SECONDS))


def reply(resp: falcon.Response, body: BaseModel, status: int = 200) -> None:
    resp.status = status
    resp.media = body.model_dump(mode="json")


def _links(req: falcon.Request, page: int, per_page: int, total: int) -> Links:
    last = max(1, -(-total // per_page))
    base = {k: v for k, v in req.params.items() if k not in ("page", "per_page")}

    def url(p: int) -> str:
        return f"{req.path}?{urlencode({**base, 'page': p, 'per_page': per_page})}"

    return Links(first=url(1), self=url(page), last=url(last),
                 next=url(page + 1) if page < last else None,
                 previous=url(page - 1) if page > 1 else None)


def page_reply(req: falcon.Request, resp: falcon.Response, rows: Sequence[Any], total: int,
               query: ListQuery, convert: Callable[[Any], BaseModel]) -> None:
    page: Page[Any] = Page(data=[convert(r) for r in rows],
                           links=_links(req, query.page, query.per_page, total),
                           total=total, page=query.page, per_page=query.per_page)
    resp.status = 200
    resp.media = page.model_dump(mode="json")
