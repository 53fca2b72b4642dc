"""``create_app``: wire config, database, tokens, events and routes into a Falcon app.

Wiring only: no logic lives here, and nothing connects to a database at import time.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import falcon
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from v6lib import __version__
from v6lib.config import ServerConfig
from v6lib.server import json_limits
from v6lib.server.auth.passwords import DEFAULT_COST, KdfCost
from v6lib.server.auth.throttle import ThrottlePolicy
from v6lib.server.auth.tokens import TokenService
from v6lib.server.bootstrap import BootstrapResult, bootstrap
from v6lib.server.compat import VantageWireMiddleware, item_methods
from v6lib.server.db.base import utcnow
from v6lib.server.db.engine import make_engine, make_session_factory
from v6lib.server.db.migrate import upgrade_database
from v6lib.server.errors import install_error_handlers
from v6lib.server.events.long_polls import LongPollGate, long_poll_slots
from v6lib.server.mail import MailOutbox
from v6lib.server.middleware import RequestMiddleware
from v6lib.server.openapi import build_openapi
from v6lib.server.resources._base import Resource
from v6lib.server.routes import ID, build_routes
from v6lib.server.services.context import ServiceSettings
from v6lib.server.services.nodes import count_old_format_keys
from v6lib.server.signing_key import signing_key
from v6lib.server.state import ServerState
from v6lib.server.ui.assets import ui_routes

__all__ = ["V6App", "create_app", "prepare_database", "service_settings"]

log = logging.getLogger("v6lib.server")


def _announce(result: BootstrapResult, username: str) -> None:
    if result.root_password:
        print(f"v6 server: created user {username!r} with password "
              f"{result.root_password!r}; it is shown only once", file=sys.stderr)


def service_settings(config: ServerConfig, kdf_cost: KdfCost) -> ServiceSettings:
    return ServiceSettings(
        kdf_cost=kdf_cost,
        password_policy=config.password_policy,
        login_throttle=ThrottlePolicy(
            free_attempts=config.max_failed_logins,
            first_delay=timedelta(seconds=config.login_backoff_seconds),
            max_delay=timedelta(minutes=config.lockout_minutes)),
        mfa_required=config.mfa_required,
        container_token_ttl=timedelta(hours=config.container_token_hours),
        api_path=config.api_path,
        max_result_bytes=config.max_result_bytes,
        reset_token_minutes=config.email_token_validity_minutes,
        recovery_per_account=config.recovery_requests_per_account,
        recovery_per_address=config.recovery_requests_per_address,
        recovery_window_minutes=config.recovery_window_minutes,
        server_name=config.server_name or config.name,
        totp_issuer=config.server_name or "v6lib",
        support_email=config.support_email,
    )


def _warn_old_node_keys(factory: Callable[[], Any]) -> None:
    with factory() as session:
        old = count_old_format_keys(session)
    if old:
        log.warning("%d node(s) have an API key of the old format and cannot log in until "
                    "an administrator resets their key (POST /node/{id}/api_key)", old)


def prepare_database(config: ServerConfig, engine: Engine, *, kdf_cost: KdfCost = DEFAULT_COST,
                     announce: Callable[[BootstrapResult, str], None] = _announce,
                     migrate: bool = True) -> str:
    """Migrate, seed rules/roles/root and return the token-signing key. Idempotent.

    The CLI calls this once in the gunicorn master so workers never race on DDL.
    """
    if migrate:
        upgrade_database(engine)
    factory = make_session_factory(engine)
    root_password = config.root_password.get_secret_value() if config.root_password else None
    for attempt in range(3):
        with factory() as session:
            try:
                result = bootstrap(session, root_username=config.root_username,
                                   root_password=root_password, kdf_cost=kdf_cost)
                secret = signing_key(session, config, kdf_cost=kdf_cost)
                session.commit()
            except IntegrityError:  # another process seeded at the same moment
                session.rollback()
                if attempt == 2:
                    raise
                continue
        announce(result, config.root_username)
        break
    _warn_old_node_keys(factory)
    return secret


class V6App(falcon.App):
    """A falcon app that also carries its ``ServerState`` (``app.v6_state``) for tests,
    the CLI and shutdown."""

    v6_state: ServerState


class ApiDocs(Resource):
    auth = False

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document


def create_app(
    config: ServerConfig,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utcnow,
    kdf_cost: KdfCost = DEFAULT_COST,
    hub: Any = None,
    migrate: bool = True,
    announce: Callable[[BootstrapResult, str], None] = _announce,
    event_loop: bool = False,
) -> V6App:
    """The WSGI app for ``config``.

    Args:
        engine: use this engine instead of one made from ``config.uri`` (tests, mock).
        clock: time source for tokens, runs and events.
        kdf_cost: argon2 cost for new password and API-key hashes (lower only in tests).
        hub: an ``EventHub``; one is created on ``engine`` when omitted.
        migrate: run migrations first (the CLI's master already did so).
        event_loop: served by ``asgi.LongPollFront``: held long-polls take no thread, so
            up to ``max_waiting_long_polls`` are held instead of a share of the threads.
    """
    from v6lib.server.events import EventHub

    engine = engine or make_engine(str(config.uri))
    secret = prepare_database(config, engine, kdf_cost=kdf_cost, announce=announce,
                              migrate=migrate)
    hub = hub or EventHub(engine, clock=clock)
    hub.start()
    state = ServerState(
        engine=engine, session_factory=make_session_factory(engine),
        tokens=TokenService(secret, clock=clock, access_minutes=config.access_token_minutes,
                            refresh_hours=config.refresh_token_hours),
        hub=hub, settings=service_settings(config, kdf_cost), clock=clock,
        max_request_bytes=config.max_request_bytes, version=__version__,
        mailer=MailOutbox(config.smtp) if config.smtp is not None else None,
        trusted_proxies=tuple(config.trusted_proxies),
        long_polls=LongPollGate(slots=config.max_waiting_long_polls if event_loop
                                else long_poll_slots(config.threads),
                                per_caller=config.max_long_polls_per_caller))
    routes = build_routes(hub=hub, long_polls=state.long_polls, version=__version__)
    middleware: list[Any] = [
        VantageWireMiddleware(config.api_path, item_methods(routes, ID)),
        RequestMiddleware(state)]
    if config.cors_origins:
        middleware.insert(0, falcon.CORSMiddleware(allow_origins=config.cors_origins))
    app = V6App(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    # NOTE: ``req.media`` decodes with the same depth limit as ``parse_body``.
    app.req_options.media_handlers[falcon.MEDIA_JSON] = falcon.media.JSONHandler(
        loads=json_limits.loads)
    install_error_handlers(app)
    for path, resource in routes:
        app.add_route(f"{config.api_path}{path}", resource)
    docs = ApiDocs(build_openapi(routes, api_path=config.api_path, version=__version__))
    app.add_route("/apidocs", docs)
    app.add_route(f"{config.api_path}/apidocs", docs)
    for path, resource in ui_routes(config.api_path):
        app.add_route(path, resource)
    app.v6_state = state
    return app
