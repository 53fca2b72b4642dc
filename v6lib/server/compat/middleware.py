"""vantage6's conventions around every answer, added beside v6lib's own.

* Errors: vantage6 clients print ``msg``; it is added as a copy of ``message``. (A
  two-factor enrolment is answered in vantage6's shape by the login itself.)
* Lists: vantage6 sends the page size and count in headers (``total-count``, ``Link``)
  as well as in the body; v6lib's body (``links``, ``total``) stays as it is.
* Items: nested ``{id, link, methods}`` references beside flat ids (:mod:`.references`).
* Queries: vantage6's client sends ``include=...`` to embed related objects; v6lib
  answers with references always, so the parameter is accepted and has nothing to add.
  ``DELETE ...?delete_dependents=true`` confirms what v6lib's delete does anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import falcon

from v6lib.errors import ValidationError
from v6lib.server.compat.references import add_references

__all__ = ["VantageWireMiddleware"]

#: Longest ``Link`` header sent; HTTP clients refuse header lines over 64 KiB.
MAX_LINK_HEADER = 8192

#: query parameters vantage6's client sends that v6lib's answers already satisfy
ACCEPTED_QUERY_PARAMETERS = frozenset({"include"})


#: vantage6's flag to delete an object with what depends on it (``false`` refuses)
DELETE_DEPENDENTS = "delete_dependents"


def _confirm_dependents(value: object) -> None:
    """v6lib always deletes with the dependents (a collaboration's nodes, studies and
    tasks), so ``delete_dependents=true`` asks for what happens anyway; anything else
    asks for a delete v6lib does not do, and is refused rather than overridden."""
    if not (isinstance(value, str) and value.lower() in ("true", "1")):
        raise ValidationError(
            "delete_dependents: v6lib deletes an object together with what depends on "
            "it; send delete_dependents=true to confirm, or leave the parameter out",
            details={"field": DELETE_DEPENDENTS})


def _is_error(body: Mapping[str, Any]) -> bool:
    return isinstance(body.get("code"), str) and isinstance(body.get("message"), str)


def _is_page(body: Mapping[str, Any]) -> bool:
    return isinstance(body.get("data"), list) and isinstance(body.get("links"), dict) \
        and isinstance(body.get("total"), int)


def link_header(links: Mapping[str, str | None]) -> str:
    """``<url>; rel=first, <url>; rel=next, ...`` of the page's ``links``."""
    return ", ".join(f"<{url}>; rel={rel}" for rel, url in links.items() if url)


class VantageWireMiddleware:
    """Adds vantage6's shapes to requests and answers under ``api_path``.

    Args:
        api_path: where the API is mounted (answers elsewhere, e.g. the UI, are left alone).
        item_methods: resource name -> HTTP methods of its item path, for references.
    """

    def __init__(self, api_path: str, item_methods: Mapping[str, Sequence[str]]) -> None:
        self.api_path = api_path
        self.item_methods = item_methods

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not req.path.startswith(self.api_path):
            return
        # NOTE: falcon types ``params`` as a Mapping; it is the request's own dict
        params = cast(dict[str, Any], req.params)
        if req.method == "GET":
            for name in ACCEPTED_QUERY_PARAMETERS & params.keys():
                del params[name]
        elif req.method == "DELETE" and DELETE_DEPENDENTS in params:
            _confirm_dependents(params.pop(DELETE_DEPENDENTS))

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        body = resp.media
        if not isinstance(body, dict) or not req.path.startswith(self.api_path):
            return
        if _is_error(body):
            body.setdefault("msg", body["message"])
        elif _is_page(body):
            resp.set_header("total-count", str(body["total"]))
            header = link_header(body["links"])
            # NOTE: the links repeat the query; a long query (a caller's choice) must not
            # make a header line that HTTP clients refuse to read. The body has them too.
            if header and len(header) <= MAX_LINK_HEADER:
                resp.set_header("Link", header)
            for item in body["data"]:
                if isinstance(item, dict):
                    add_references(item, self.api_path, self.item_methods)
        else:
            add_references(body, self.api_path, self.item_methods)
