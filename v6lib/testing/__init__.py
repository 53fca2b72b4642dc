"""Test helpers that run the real parts in one process: a served app, a local federation.

``LocalFederation`` is the production counterpart of :class:`~v6lib.mock.MockNetwork`
with the same researcher-side methods (``run``, ``create_task``, ``wait_for_results``,
``runs``, ``kill_task``): a real server on SQLite served over HTTP in a thread, and one
real node daemon per organization (process runtime) in threads. A suite written against
both shows that what passes on the mock passes in production.
"""

from __future__ import annotations

from v6lib.testing.federation import LocalFederation as LocalFederation
from v6lib.testing.http_server import serve_app as serve_app

__all__ = ["LocalFederation", "serve_app"]
