"""vantage6 4.x wire shapes, beside v6lib's own, so scripts written for vantage6's Python
client work unchanged against a v6lib server.

Everything vantage6-specific lives here and only adds: v6lib's own fields, endpoints and
status codes stay as they are.

* :mod:`.references`: nested ``{id, link, methods}`` objects beside flat ``*_id`` fields.
* :mod:`.middleware`: ``msg`` beside ``code``/``message`` in errors, ``total-count`` and
  ``Link`` headers on lists, vantage6's query parameters on lists.
* :mod:`.resources`: vantage6's extra endpoints (``/task/{id}/status``, ``/kill/task``,
  ``/kill/node/tasks``, ``/collaboration/{id}/node``, ``/study/{id}/organization``,
  ``/blobstream/status``), built on the same services and permission checks as v6lib's
  own.
"""

from v6lib.server.compat.middleware import VantageWireMiddleware
from v6lib.server.compat.resources import compat_routes, item_methods

__all__ = ["VantageWireMiddleware", "compat_routes", "item_methods"]
