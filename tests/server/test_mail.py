"""Mail through a real SMTP server (aiosmtpd): STARTTLS with login, implicit TLS, failures."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.mail_server import MailSink, free_port
from tests.tls_certificate import self_signed_certificate
from v6lib.config.server import SmtpConfig
from v6lib.server.mail import Mail, MailOutbox, build_message, send_mail

MAIL = Mail(to="ann@site.test", subject="hello", body="the body")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"smtp-pass")


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[MailSink, int, Logins]]:
    sink, logins, port = MailSink(), Logins(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port,
                            tls_context=_server_context(certificate), require_starttls=True,
                            authenticator=logins, auth_require_tls=True)
    controller.start()
    yield sink, port, logins
    controller.stop()


def test_starttls_login_and_delivery(starttls_server: tuple[MailSink, int, Logins],
                                     certificate: tuple[Path, Path]) -> None:
    sink, port, logins = starttls_server
    smtp = SmtpConfig(server="127.0.0.1", port=port, username="v6@server.test",
                      password="smtp-pass", ca_file=certificate[0])  # type: ignore[arg-type]
    send_mail(smtp, MAIL)
    [message] = sink.wait_for(1)
    assert logins.seen == [("v6@server.test", "smtp-pass")]
    assert message["From"] == "v6@server.test" and message["To"] == "ann@site.test"
    assert message.get_content().strip() == "the body"


def test_an_untrusted_certificate_is_refused(
        starttls_server: tuple[MailSink, int, Logins]) -> None:
    _sink, port, logins = starttls_server
    smtp = SmtpConfig(server="127.0.0.1", port=port, username="u", password="smtp-pass")  # type: ignore[arg-type]
    with pytest.raises(ssl.SSLError):
        send_mail(smtp, MAIL)
    assert logins.seen == []  # the password never left over an unverified connection


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    sink, port = MailSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port,
                            ssl_context=_server_context(certificate))
    controller.start()
    try:
        send_mail(SmtpConfig(server="127.0.0.1", port=port, tls="implicit",
                             email_from="v6@server.test", ca_file=certificate[0]), MAIL)
        [message] = sink.wait_for(1)
        assert message["Subject"] == "hello"
    finally:
        controller.stop()


def test_undeliverable_mail_is_logged_without_its_body(
        caplog: pytest.LogCaptureFixture) -> None:
    def refuse(smtp: SmtpConfig, mail: Mail) -> None:
        raise ConnectionRefusedError("no server")

    outbox = MailOutbox(SmtpConfig(server="127.0.0.1", port=1), send=refuse)
    with caplog.at_level(logging.WARNING, logger="v6lib.server.mail"):
        outbox.submit(Mail(to="a@b.test", subject="reset", body="TOKEN-123"))
        outbox.stop()
    assert "could not send mail 'reset'" in caplog.text and "ConnectionRefusedError" in caplog.text
    assert "TOKEN-123" not in caplog.text


def test_sender_defaults_and_headers() -> None:
    smtp = SmtpConfig(server="mail", username="robot@site.test")
    message = build_message(MAIL, "robot@site.test")
    assert message["Auto-Submitted"] == "auto-generated" and message["Date"]
    assert message["Message-ID"].endswith("@site.test>")
    from v6lib.server.mail import sender_address

    assert sender_address(smtp) == "robot@site.test"
    assert sender_address(SmtpConfig.model_validate(
        {"server": "mail", "from": "noreply@site.test"})) == "noreply@site.test"
