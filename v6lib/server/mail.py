"""Mail through the configured SMTP server, with the standard library's smtplib and email.

The server mails one kind of message: account-recovery tokens. They are sent from a
background thread, so a request never waits for the mail server and the time a
``/recover/*/lost`` request takes does not tell whether the account exists.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from v6lib.config.server import SmtpConfig

__all__ = ["Mail", "MailOutbox", "Mailer", "build_message", "send_mail", "sender_address"]

log = logging.getLogger("v6lib.server.mail")


@dataclass(frozen=True)
class Mail:
    """One plain-text message to one recipient."""

    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """What the services need: hand over a message to be sent soon."""

    def submit(self, mail: Mail) -> None: ...


def sender_address(smtp: SmtpConfig) -> str:
    """``email_from``, else the SMTP username when it is an address, else noreply@host."""
    if smtp.email_from:
        return smtp.email_from
    if smtp.username and "@" in smtp.username:
        return smtp.username
    return f"noreply@{socket.getfqdn()}"


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message.set_content(mail.body)
    return message


def send_mail(smtp: SmtpConfig, mail: Mail) -> None:
    """Deliver ``mail`` now: connect, secure the connection as configured, log in, send.

    Raises:
        smtplib.SMTPException, OSError: the server refused or could not be reached.
    """
    context = ssl.create_default_context(
        cafile=str(smtp.ca_file) if smtp.ca_file is not None else None)
    client: smtplib.SMTP
    if smtp.tls == "implicit":
        client = smtplib.SMTP_SSL(smtp.server, smtp.port, timeout=smtp.timeout_seconds,
                                  context=context)
    else:
        client = smtplib.SMTP(smtp.server, smtp.port, timeout=smtp.timeout_seconds)
    with client:
        if smtp.tls == "starttls":
            client.starttls(context=context)
        if smtp.username and smtp.password is not None:
            client.login(smtp.username, smtp.password.get_secret_value())
        client.send_message(build_message(mail, sender_address(smtp)))


class MailOutbox:
    """Sends submitted mail one by one from a daemon thread started at the first submit.

    A message that cannot be delivered is logged (subject and error, never the body,
    which holds a token) and dropped: the user can ask again.
    """

    def __init__(self, smtp: SmtpConfig, *,
                 send: Callable[[SmtpConfig, Mail], None] = send_mail) -> None:
        self.smtp = smtp
        self._send = send
        self._queue: queue.Queue[Mail | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, mail: Mail) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="v6-mail",
                                                daemon=True)
                self._thread.start()
        self._queue.put(mail)

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (waiting at most ``timeout`` seconds), then end the thread."""
        with self._lock:
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            mail = self._queue.get()
            if mail is None:
                return
            try:
                self._send(self.smtp, mail)
                log.info("sent mail %r", mail.subject)
            except (smtplib.SMTPException, OSError) as exc:
                code = getattr(exc, "smtp_code", None)
                log.warning("could not send mail %r through %s:%s: %s%s", mail.subject,
                            self.smtp.server, self.smtp.port, type(exc).__name__,
                            f" (SMTP {code})" if code else "")
