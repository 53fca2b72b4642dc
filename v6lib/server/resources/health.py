"""``/health`` and ``/version``: unauthenticated liveness and version checks."""

from __future__ import annotations

import falcon
from sqlalchemy import text

from v6lib.schemas.health import HealthOut, VersionOut
from v6lib.server.resources._base import Op, Resource, reply

__all__ = ["API_VERSION", "Health", "Version"]

API_VERSION = 1


class Health(Resource):
    auth = False
    api = {"get": Op("Server and database liveness", HealthOut, auth=False, errors=(503,))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            req.context.session.execute(text("SELECT 1"))
            database = "ok"
        except Exception:
            database = "unavailable"
        reply(resp, HealthOut(status="ok" if database == "ok" else "degraded",
                              database=database), 200 if database == "ok" else 503)


class Version(Resource):
    auth = False
    api = {"get": Op("Server version and API generation", VersionOut, auth=False)}

    def __init__(self, version: str) -> None:
        self.version = version

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, VersionOut(version=self.version, api=API_VERSION))
