"""``/recover/*``: mailed one-time tokens for a lost password or second factor, rate limits."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from tests.mail_server import MailSink, smtp_sink_fixture  # noqa: F401  (fixture)
from tests.server.conftest import PASSWORD, Api, build_app
from v6lib.server.auth.passwords import TEST_COST, hash_secret
from v6lib.server.db.models import User


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


Started = tuple[Api, MailSink, Clock, Any]


@pytest.fixture
def start_mail_app(sqlite_url: str, smtp_sink: tuple[MailSink, int]) -> Iterator[Any]:
    """Start a server that mails through the test SMTP server, with extra settings."""
    sink, port = smtp_sink
    apps: list[Any] = []

    def start(**extra: Any) -> Started:
        clock = Clock()
        app = build_app(sqlite_url, clock=clock, config={
            "smtp": {"server": "127.0.0.1", "port": port, "tls": "none",
                     "email_from": "v6@server.test"}, "support_email": "help@server.test",
            **extra})
        apps.append(app)
        with app.v6_state.session_factory() as session:  # root may not log in (MFA)
            root = session.scalars(select(User).where(User.username == "root")).one()
            session.add(User(username="ann", email="ann@site.test",
                             organization_id=root.organization_id,
                             password_hash=hash_secret(PASSWORD, cost=TEST_COST)))
            session.commit()
        return Api(app), sink, clock, app

    yield start
    for app in apps:
        app.v6_state.hub.stop()
        app.v6_state.mailer.stop()
        app.v6_state.engine.dispose()


@pytest.fixture
def mail_app(start_mail_app: Any) -> Started:
    return start_mail_app()  # type: ignore[no-any-return]


def token_in(message: Any) -> str:
    found = re.search(r"^ +([A-Za-z0-9_-]{40,})\s*$", message.get_content(), re.M)
    assert found, message.get_content()
    return found.group(1)


def test_the_mail_names_the_account_and_how_to_use_the_token(
        mail_app: Started) -> None:
    api, sink, _clock, _app = mail_app
    api.ok("POST", "/recover/lost", json={"username": "ann"})
    [mail] = sink.wait_for(1)
    assert mail["To"] == "ann@site.test" and "ann" in mail["Subject"]
    body = mail.get_content()
    assert "/api/recover/reset" in body and "help@server.test" in body
    assert "valid 30 minutes" in body
    assert sink.envelopes[0] == ("v6@server.test", ["ann@site.test"])


def test_unknown_accounts_get_the_same_answer_and_no_mail(
        mail_app: Started) -> None:
    api, sink, _clock, app = mail_app
    known = api.ok("POST", "/recover/lost", json={"email": "ann@site.test"})
    unknown = api.ok("POST", "/recover/lost", json={"email": "nobody@site.test"})
    assert known == unknown
    app.v6_state.mailer.stop()  # everything queued is sent
    assert len(sink.messages) == 1


def test_expired_token_is_refused(mail_app: Started) -> None:
    api, sink, clock, _app = mail_app
    api.ok("POST", "/recover/lost", json={"username": "ann"})
    token = token_in(sink.wait_for(1)[0])
    clock.now += timedelta(minutes=31)
    late = api.post("/recover/reset", json={"reset_token": token, "password": "New-pass-123!"})
    assert late.status_code == 401 and "expired" in late.json["message"]


def test_validity_follows_email_token_validity_minutes(start_mail_app: Any) -> None:
    api, sink, clock, _app = start_mail_app(email_token_validity_minutes=5)
    api.ok("POST", "/recover/lost", json={"username": "ann"})
    mail = sink.wait_for(1)[0]
    assert "valid 5 minutes" in mail.get_content()
    clock.now += timedelta(minutes=6)
    late = api.post("/recover/reset", json={"reset_token": token_in(mail),
                                            "password": "New-pass-123!"})
    assert late.status_code == 401


def test_weak_new_password_keeps_the_token(mail_app: Started) -> None:
    api, sink, _clock, _app = mail_app
    api.ok("POST", "/recover/lost", json={"username": "ann"})
    token = token_in(sink.wait_for(1)[0])
    weak = api.post("/recover/reset", json={"reset_token": token, "password": "short"})
    assert weak.status_code == 400
    api.ok("POST", "/recover/reset", json={"reset_token": token, "password": "New-pass-123!"})
    assert api.login("ann", "New-pass-123!")


def test_requests_are_rate_limited_per_account_and_address(start_mail_app: Any) -> None:
    api, _sink, clock, _app = start_mail_app(recovery_requests_per_account=2,
                                             recovery_requests_per_address=5)
    for name in ("ann", "nobody"):  # an unknown name is limited alike: no existence oracle
        for _ in range(2):
            api.ok("POST", "/recover/lost", json={"username": name})
        limited = api.post("/recover/lost", json={"username": name})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    # the address has made 4 counted requests; one more name, then the address is full
    api.ok("POST", "/recover/2fa/lost", json={"username": "third"})
    address = api.post("/recover/lost", json={"username": "fourth"})
    assert address.status_code == 429
    clock.now += timedelta(minutes=16)  # recovery_window_minutes (15) later
    api.ok("POST", "/recover/lost", json={"username": "ann"})


def test_a_token_serves_its_own_purpose_only(
        mail_app: Started) -> None:
    api, sink, _clock, _app = mail_app
    api.ok("POST", "/recover/lost", json={"username": "ann"})
    token = token_in(sink.wait_for(1)[0])
    wrong = api.post("/recover/2fa/reset", json={"reset_token": token, "password": PASSWORD})
    assert wrong.status_code == 401


def test_lost_second_factor_is_removed_with_token_and_password(start_mail_app: Any) -> None:
    api, sink, _clock, _app = start_mail_app(mfa_required=True)
    creds = {"username": "ann", "password": PASSWORD}
    secret = api.post("/token/user", json=creds).json["otp_secret"]
    code = pyotp.TOTP(secret).at(datetime.now(UTC))
    session = api.ok("POST", "/token/user", json={**creds, "mfa_code": code})
    api.ok("POST", "/recover/2fa/lost", json={"username": "ann"})
    mail = sink.wait_for(1)[0]
    assert "two-factor" in mail["Subject"] and "/api/recover/2fa/reset" in mail.get_content()
    token = token_in(mail)
    assert api.post("/recover/reset", json={"reset_token": token,
                                            "password": "New-pass-123!"}).status_code == 401
    wrong = api.post("/recover/2fa/reset", json={"reset_token": token, "password": "Nope-1!"})
    assert wrong.status_code == 401 and wrong.json["message"] == "password is wrong"
    api.ok("POST", "/recover/2fa/reset", json={"reset_token": token, "password": PASSWORD})
    again = api.post("/token/user", json=creds)  # enrolment starts over with a new secret
    assert again.status_code == 200 and again.json["otp_secret"] != secret
    assert "access_token" not in again.json
    assert api.get("/organization", token=session["access_token"]).status_code == 401
    reuse = api.post("/recover/2fa/reset", json={"reset_token": token, "password": PASSWORD})
    assert reuse.status_code == 401


def test_no_second_factor_no_mail(mail_app: Started,
                                  caplog: pytest.LogCaptureFixture) -> None:
    api, sink, _clock, app = mail_app
    with caplog.at_level(logging.INFO, logger="v6lib.server.recover"):
        api.ok("POST", "/recover/2fa/lost", json={"username": "ann"})
    app.v6_state.mailer.stop()
    assert sink.messages == []
    assert "without a second factor" in caplog.text


def test_user_without_email_is_logged_not_mailed(
        mail_app: Started, caplog: pytest.LogCaptureFixture) -> None:
    api, sink, _clock, app = mail_app
    with caplog.at_level(logging.WARNING, logger="v6lib.server.recover"):
        api.ok("POST", "/recover/lost", json={"username": "root"})
    app.v6_state.mailer.stop()
    assert sink.messages == [] and "has no email address" in caplog.text
