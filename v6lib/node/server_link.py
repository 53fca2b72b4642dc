"""The node's authenticated connection to the server: login, token refresh and typed calls.

Why a separate module: the daemon, the outbox and the proxy all talk to the server as
this node; they share one :class:`Transport` whose 401 handler refreshes the token, or
logs in again with the API key when the refresh token itself has expired (after a long
outage), so no loop ever has to think about authentication.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from v6lib.client.tls import tls_session
from v6lib.client.transport import Transport
from v6lib.errors import AuthenticationError, ServerUnavailableError
from v6lib.rules.progress import ProgressReport
from v6lib.schemas._base import OutModel
from v6lib.schemas.collaboration import CollaborationOut
from v6lib.schemas.event import EventsOut
from v6lib.schemas.health import VersionOut
from v6lib.schemas.node import NodeOut
from v6lib.schemas.organization import OrganizationOut
from v6lib.schemas.run import RunClaimOut, RunOut
from v6lib.schemas.task import TaskOut
from v6lib.schemas.token import NodeTokenOut, RefreshOut

if TYPE_CHECKING:
    from v6lib.node.options import NodeOptions

__all__ = ["ServerLink", "checked", "link_for", "server_base_url"]

log = logging.getLogger(__name__)


def server_base_url(server_url: str, port: int | None = None, api_path: str = "/api") -> str:
    """Join the node config's ``server_url``, ``port`` and ``api_path`` into one URL.

    A port already present in ``server_url`` wins over ``port``.
    """
    parts = urlsplit(server_url if "://" in server_url else f"http://{server_url}")
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    path = "/".join(p.strip("/") for p in (parts.path, api_path or "") if p.strip("/"))
    return urlunsplit((parts.scheme, netloc, f"/{path}" if path else "", "", "")).rstrip("/")


def checked(model: type[OutModel], body: Any) -> dict[str, Any]:
    """``body`` once ``model`` (the server's reply model) accepts it.

    The node reads these replies as mappings, but through the server's own wire model
    first, so a reply the server no longer sends that way fails here and in the tests,
    not later deep in a run.
    """
    model.from_reply(body)
    reply: dict[str, Any] = body
    return reply


def link_for(options: NodeOptions) -> ServerLink:
    """The link to the server a node's options name, trusting their ``server_ca_file``.

    Why one function: the daemon and the node's commands (audit, key upload) must reach
    the server alike; a command that left out the CA bundle would fail only behind a
    private CA.
    """
    transport = Transport(options.server_api_url, session=tls_session(options.server_ca_file))
    return ServerLink(transport, options.api_key)


class ServerLink:
    """Node-authenticated API calls.

    Args:
        transport: the HTTP transport (its ``base_url`` includes the API path).
        api_key: the node's API key, used to log in and to log in again.
    """

    def __init__(self, transport: Transport, api_key: str) -> None:
        self.transport = transport
        self._api_key = api_key
        self._refresh_token: str | None = None
        self._lock = threading.Lock()
        self.node_id: int | None = None
        transport.refresh = self._renew

    # -- authentication -----------------------------------------------------------------
    def login(self) -> int:
        """Log in with the API key; returns the node id."""
        with self._lock:
            return self._login_locked()

    def _login_locked(self) -> int:
        token = NodeTokenOut.from_reply(self.transport.post(
            "/token/node", json={"api_key": self._api_key}, authenticated=False
        ))
        self.transport.token = token.access_token
        self._refresh_token = token.refresh_token
        self.node_id = token.id
        return self.node_id

    def _renew(self) -> str | None:
        """Called by the transport on a 401: refresh, or log in again with the API key."""
        with self._lock:
            if self._refresh_token:
                try:
                    refreshed = RefreshOut.from_reply(self.transport.post(
                        "/token/refresh", authenticated=False,
                        headers={"Authorization": f"Bearer {self._refresh_token}"},
                    ))
                    self._refresh_token = refreshed.refresh_token
                    return refreshed.access_token
                except AuthenticationError:
                    log.info("refresh token no longer valid; logging in again with the API key")
                except ServerUnavailableError:
                    return None
            try:
                self._login_locked()
            except (AuthenticationError, ServerUnavailableError) as exc:
                log.error("re-authentication failed: %s", exc)
                return None
            return self.transport.token

    # -- resources ----------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        return checked(VersionOut, self.transport.get("/version", authenticated=False))

    def node(self, node_id: int) -> dict[str, Any]:
        return checked(NodeOut, self.transport.get(f"/node/{node_id}"))

    def organization(self, org_id: int) -> dict[str, Any]:
        return checked(OrganizationOut, self.transport.get(f"/organization/{org_id}"))

    def set_public_key(self, org_id: int, public_key_b64: str) -> dict[str, Any]:
        return checked(OrganizationOut, self.transport.patch(
            f"/organization/{org_id}", json={"public_key": public_key_b64}))

    def collaboration(self, collaboration_id: int) -> dict[str, Any]:
        return checked(CollaborationOut, self.transport.get(f"/collaboration/{collaboration_id}"))

    def task(self, task_id: int) -> dict[str, Any]:
        return checked(TaskOut, self.transport.get(f"/task/{task_id}"))

    def run(self, run_id: int) -> dict[str, Any]:
        return checked(RunOut, self.transport.get(f"/run/{run_id}"))

    def runs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every run matching ``filters``, all pages."""
        for run in self.transport.iter_pages("/run", params=filters, per_page=100):
            yield checked(RunOut, run)

    def patch_run(self, run_id: int, body: dict[str, Any]) -> dict[str, Any] | None:
        answer = self.transport.patch(f"/run/{run_id}", json=body)
        return None if answer is None else checked(RunOut, answer)

    def post_progress(self, run_id: int, report: ProgressReport) -> dict[str, Any]:
        """Forward a run's progress (409 once the run has ended)."""
        return checked(RunOut, self.transport.post(
            f"/run/{run_id}/progress",
            json={"progress": report.fraction, "message": report.message}))

    def publish_audit_head(self, node_id: int, count: int, head: str) -> dict[str, Any]:
        """Store the audit trail's head on the node's record (409 when it goes back)."""
        answer = self.transport.put(f"/node/{node_id}/audit",
                                    json={"count": count, "head": head})
        return dict(answer) if answer else {}

    def claim_run(self, run_id: int) -> RunClaimOut:
        """Take a pending run (or resume one this node already initializes) in one call.

        The server moved the run to "initializing"; 409 when it is not ours to start
        (killed, taken, finished).
        """
        return RunClaimOut.from_reply(self.transport.post(f"/run/{run_id}/claim"))

    def events(self, since: int | None, timeout: float) -> dict[str, Any]:
        """Long-poll for events; the HTTP timeout exceeds the server's hold time."""
        return checked(EventsOut, self.transport.get(
            "/event", params={"since": since, "timeout": int(timeout)}, timeout=timeout + 15
        ))

