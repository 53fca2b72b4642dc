"""Generic list/create/view/edit/delete responders, so resource modules declare only what differs.

Each mixin adds one falcon responder and nothing else, so a resource answers exactly the
methods it composes (others stay 405). The request and response models come from the
class's ``api`` ops (the same ones the OpenAPI document is built from); the use case is
the service function the class holds, e.g. ``list_rows = staticmethod(svc.list_users)``:
a reference, not a name, so the type checker holds it to the mixin's signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import falcon
from pydantic import BaseModel

from v6lib.schemas.token import Message
from v6lib.server.resources._base import Resource, page_reply, parse_body, parse_query, reply
from v6lib.server.services.context import ServiceContext

__all__ = ["Creating", "Deleting", "Editing", "Listing", "Reading"]


class _Served(Resource):
    """Turns a service's row into the reply model of the operation being answered."""

    def out(self, ctx: ServiceContext, row: Any, method: str) -> BaseModel:
        """Override where the reply is not simply the op's response model of the row."""
        model = self.api[method].response
        assert model is not None, f"{type(self).__name__}.api[{method!r}] has no response"
        return model.model_validate(row)


class Listing(_Served):
    """``GET`` a page: the op's query model is parsed and passed to ``list_rows``."""

    @staticmethod
    def list_rows(*ctx_and_query: Any, **query: Any) -> tuple[Sequence[Any], int]:
        """The rows of one page and the total; the resource holds its service's.

        Called as ``list_rows(ctx, **query)``; the query's fields are each resource's
        own (its query model), so only the reply is typed here.
        """
        raise NotImplementedError

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ctx, model = self.ctx(req), self.api["get"].query
        assert model is not None, f"{type(self).__name__}.api['get'] has no query model"
        q = parse_query(req, model)
        rows, total = self.list_rows(ctx, **q.model_dump())
        page_reply(req, resp, rows, total, q,  # type: ignore[arg-type]
                   lambda row: self.out(ctx, row, "get"))


class Creating(_Served):
    """``POST`` the op's body model to ``create_row``; answers with the op's status."""

    @staticmethod
    def create_row(ctx: ServiceContext, body: Any, /) -> Any:
        """The new row; the resource holds its service's."""
        raise NotImplementedError

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        ctx, op = self.ctx(req), self.api["post"]
        assert op.body is not None, f"{type(self).__name__}.api['post'] has no body model"
        reply(resp, self.out(ctx, self.create_row(ctx, parse_body(req, op.body)), "post"),
              op.status)


class Reading(_Served):
    """``GET`` one row by id from ``get_row``."""

    @staticmethod
    def get_row(ctx: ServiceContext, id: int, /) -> Any:
        """The row with ``id``; the resource holds its service's."""
        raise NotImplementedError

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        ctx = self.ctx(req)
        reply(resp, self.out(ctx, self.get_row(ctx, id), "get"))


class Editing(_Served):
    """``PATCH`` one row by id with the op's body model through ``update_row``."""

    @staticmethod
    def update_row(ctx: ServiceContext, id: int, body: Any, /) -> Any:
        """The row with ``id`` once changed; the resource holds its service's."""
        raise NotImplementedError

    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        ctx, model = self.ctx(req), self.api["patch"].body
        assert model is not None, f"{type(self).__name__}.api['patch'] has no body model"
        reply(resp, self.out(ctx, self.update_row(ctx, id, parse_body(req, model)), "patch"))


class Deleting(Resource):
    """``DELETE`` one row by id through ``delete_row``; answers "<noun> <id> deleted"."""

    noun: ClassVar[str]
    @staticmethod
    def delete_row(ctx: ServiceContext, id: int, /) -> None:
        """Remove the row with ``id``; the resource holds its service's."""
        raise NotImplementedError

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        self.delete_row(self.ctx(req), id)
        reply(resp, Message(msg=f"{self.noun} {id} deleted"))
