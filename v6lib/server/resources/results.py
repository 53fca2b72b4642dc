"""``/run/{id}/result``: a run's result as raw bytes, streamed both ways.

``PUT`` (the run's node only) takes an ``application/octet-stream`` body of up to
``max_result_bytes``; ``GET`` (whoever may view the run) answers the bytes with their
``Content-Length`` and SHA-256. Errors are JSON like everywhere else.
"""

from __future__ import annotations

import falcon

from v6lib.schemas.run import RunResultOut
from v6lib.server.resources._base import Op, Resource, reply
from v6lib.server.services import results as svc

__all__ = ["RAW_MEDIA", "SHA256_HEADER", "RunResult"]

RAW_MEDIA = "application/octet-stream"
#: Response header carrying the hex SHA-256 of the result bytes (also the ETag).
SHA256_HEADER = "X-Result-SHA256"


def _media(req: falcon.Request) -> str:
    return (req.content_type or "").split(";", 1)[0].strip().lower()


class RunResult(Resource):
    api = {
        "get": Op("A run's result as raw bytes (application/octet-stream, streamed), for "
                  "whoever may view the run; 404 when it has none", errors=(404,)),
        "put": Op("Send a run's result as raw bytes (its node only; Content-Type "
                  "application/octet-stream, Content-Length required, up to "
                  "max_result_bytes, optional X-Result-SHA256 checked against the body); "
                  "sending the same bytes again is a no-op",
                  RunResultOut, errors=(400, 404, 409, 411, 413, 415)),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        stored, chunks = svc.open_result(self.ctx(req), id)
        resp.status = 200
        resp.content_type = RAW_MEDIA
        resp.content_length = stored.size
        resp.etag = stored.sha256
        resp.set_header(SHA256_HEADER, stored.sha256)
        resp.stream = chunks

    def on_put(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        if _media(req) != RAW_MEDIA:
            raise falcon.HTTPUnsupportedMediaType(
                description=f"send the result bytes with Content-Type: {RAW_MEDIA}")
        if req.content_length is None:
            raise falcon.HTTPLengthRequired(
                description="a result upload needs a Content-Length header")
        got = svc.receive_result(self.ctx(req), id, req.bounded_stream, req.content_length,
                                 req.get_header(SHA256_HEADER))
        reply(resp, RunResultOut(run_id=got.run_id, size=got.size, sha256=got.sha256,
                                 stored=got.stored, changed=got.changed))
