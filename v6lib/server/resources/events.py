"""``GET /event``: long-poll for the events the caller may receive."""

from __future__ import annotations

import falcon
from pydantic import BaseModel, ConfigDict, Field

from v6lib.schemas.event import EventsOut
from v6lib.server.events.long_polls import LongPollGate
from v6lib.server.events.parking import parked
from v6lib.server.resources._base import (
    Op,
    Resource,
    held_while_waiting,
    park_until,
    parse_query,
    reply,
)
from v6lib.server.services import events as svc
from v6lib.server.services.context import MAX_EVENT_TIMEOUT

__all__ = ["EventCollection"]


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: int | None = Field(default=None, ge=0)
    timeout: float = Field(default=0, ge=0, le=MAX_EVENT_TIMEOUT)


class EventCollection(Resource):
    api = {"get": Op("Events newer than `since`, waiting up to `timeout` seconds (a caller "
                     "holds few waits at once: 429; a busy server: 503, with Retry-After)",
                     EventsOut, query=EventQuery, errors=(400, 429, 503))}

    def __init__(self, hub: object, long_polls: LongPollGate) -> None:
        self.hub = hub
        self.long_polls = long_polls

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, EventQuery)
        ctx = self.ctx(req)
        park = parked(req.env)
        if park is not None and q.timeout > 0:
            since = q.since if park.resume is None else park.resume
            # NOTE: no table read first: if nothing is found the poll parks, and the
            # hub wakes it for whatever it has not read yet (see ``EventHub.wait``)
            events, cursor = svc.wait_for_events(ctx, self.hub, since, 0, fresh=False)
            if not events:
                park_until(park, self.long_polls, ctx, resp, svc.event_keys(ctx.me),
                           cursor=cursor, timeout=q.timeout)
        else:
            with held_while_waiting(self.long_polls, ctx, resp, q.timeout) as timeout:
                events, cursor = svc.wait_for_events(ctx, self.hub, q.since, timeout)
        reply(resp, EventsOut(events=events, cursor=cursor))
