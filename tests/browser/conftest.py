"""Browser tests: the web UI in Debian's headless Chromium, driven by Playwright.

The browser is the system package (``/usr/bin/chromium``; ``scripts/test.sh`` installs it
as root), never a download. Pages talk to real servers: a ``LocalFederation`` (server on
SQLite over HTTP and process-runtime nodes) and, for two-factor login and recovery mail,
a server that requires a second factor and mails through a local SMTP server.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from v6lib.client import Client
from v6lib.config import ServerConfig
from v6lib.server.app import create_app
from v6lib.server.auth.passwords import TEST_COST, hash_secret
from v6lib.server.db.models import User
from v6lib.testing import LocalFederation, serve_app

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT / "examples" / "average", Path(__file__).parent / "algorithms"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import v6_ui_algorithms  # noqa: E402

from tests.mail_server import MailSink, smtp_sink_fixture  # noqa: E402,F401

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("V6_CHROMIUM", "/usr/bin/chromium")
# NOTE: no background networking: this machine reaches no outside host, and Chromium
# would otherwise keep trying (and fail) at every start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOTS = ROOT / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = LocalFederation.PASSWORD
MFA_PASSWORD = "Browser-test-pass-1!"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does "
                    "so as root), or point V6_CHROMIUM at a Chromium binary")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()
FAILURES = Path(os.environ.get("V6_UI_FAILURES", "/tmp/v6-ui-failures"))


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no storage) per test; a page error fails the test.

    A failed test leaves a screenshot of the page in ``V6_UI_FAILURES``.
    """
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC",
                                  reduced_motion="reduce", accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[Any] = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    if request.node.stash.get(_FAILED, False):
        FAILURES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(FAILURES / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    datasets = sorted((ROOT / "examples" / "average" / "data").glob("*.csv"))
    with LocalFederation(v6_ui_algorithms, [str(p) for p in datasets],
                         workdir=tmp_path_factory.mktemp("browser-federation")) as federation:
        yield federation


def url(port: int, fragment: str = "") -> str:
    return f"http://127.0.0.1:{port}/ui{fragment}"


def root_client(federation: LocalFederation) -> Client:
    client = Client("http://127.0.0.1", federation.port, "/api")
    client.authenticate("root", PASSWORD)
    return client


def login(page: Any, port: int, username: str, password: str) -> None:
    """Log in from the login page with the keyboard only, as a person could."""
    page.goto(url(port, "#/login"))
    page.get_by_label("Username").wait_for()
    page.keyboard.type(username)  # the username field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Log out").wait_for()


def shoot(page: Any, name: str) -> None:
    """A screenshot of the page for docs/ui.md (fixed viewport, locale and time zone).

    Only with ``V6_UI_SCREENSHOTS=1``: a test run never rewrites files in the checkout.
    """
    if os.environ.get("V6_UI_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"ui-{name}.png"), full_page=False,
                    animations="disabled", caret="hide")


class MfaServer:
    """A server that requires two-factor login and mails recovery tokens."""

    def __init__(self, port: int, sink: MailSink, app: Any) -> None:
        self.port = port
        self.sink = sink
        self.app = app

    def add_user(self, username: str, email: str) -> None:
        with self.app.v6_state.session_factory() as session:
            root = session.scalars(select(User).where(User.username == "root")).one()
            session.add(User(username=username, email=email,
                             organization_id=root.organization_id,
                             password_hash=hash_secret(MFA_PASSWORD, cost=TEST_COST)))
            session.commit()


@pytest.fixture
def mfa_server(tmp_path: Path, smtp_sink: tuple[MailSink, int]) -> Iterator[MfaServer]:
    sink, smtp_port = smtp_sink
    config = ServerConfig(
        uri=f"sqlite:///{tmp_path / 'mfa.sqlite'}", root_password=PASSWORD,
        jwt_secret_key=secrets.token_hex(32), mfa_required=True,
        smtp={"server": "127.0.0.1", "port": smtp_port, "tls": "none",  # type: ignore[arg-type]
              "email_from": "v6@server.test"})
    app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None)
    with ExitStack() as stack:
        stack.callback(app.v6_state.engine.dispose)
        stack.callback(app.v6_state.hub.stop)
        stack.callback(app.v6_state.mailer.stop)
        port = stack.enter_context(serve_app(app))
        yield MfaServer(port, sink, app)
