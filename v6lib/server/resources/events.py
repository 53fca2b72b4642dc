"""``GET /event``: long-poll for the events the caller may receive."""

from __future__ import annotations

import falcon
from pydantic import BaseModel, ConfigDict, Field

from v6lib.schemas.event import EventsOut
from v6lib.server.resources._base import Op, Resource, parse_query, reply
from v6lib.server.services import events as svc
from v6lib.server.services.context import MAX_EVENT_TIMEOUT

__all__ = ["EventCollection"]


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: int | None = Field(default=None, ge=0)
    timeout: float = Field(default=0, ge=0, le=MAX_EVENT_TIMEOUT)


class EventCollection(Resource):
    api = {"get": Op("Events newer than `since`, waiting up to `timeout` seconds",
                     EventsOut, query=EventQuery)}

    def __init__(self, hub: object) -> None:
        self.hub = hub

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, EventQuery)
        events, cursor = svc.wait_for_events(self.ctx(req), self.hub, q.since, q.timeout)
        reply(resp, EventsOut(events=events, cursor=cursor))
