"""Logging in: two-factor enrolment with the QR code, logout, an expired session, and
account recovery through the mailed token."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest

from tests.browser.conftest import MFA_PASSWORD, PASSWORD, MfaServer, login, shoot, url
from v6lib.client import Client
from v6lib.testing import LocalFederation

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _submit_login(page: Any, username: str, password: str, code: str = "") -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Two-factor code").fill(code)
    page.get_by_role("button", name="Log in").click()


def test_two_factor_enrolment_with_the_qr_code(page: Any, mfa_server: MfaServer) -> None:
    mfa_server.add_user("ann", "ann@site.test")
    page.goto(url(mfa_server.port))  # not logged in: the login page
    page.get_by_role("heading", name="Log in").wait_for()
    shoot(page, "login")
    _submit_login(page, "ann", MFA_PASSWORD)

    page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
    qr = page.get_by_role("img", name=re.compile("QR code for your authenticator app"))
    assert qr.get_attribute("src").startswith("data:image/")  # type: ignore[union-attr]
    assert qr.evaluate("img => img.naturalWidth") > 100
    secret = page.locator("#otp-secret").inner_text()
    assert page.get_by_label("Two-factor code").evaluate("el => el === document.activeElement")
    shoot(page, "mfa-enrolment")
    page.keyboard.type(pyotp.TOTP(secret).now())
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Log out").wait_for()
    page.get_by_role("heading", name="Collaborations").wait_for()

    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are logged out.").wait_for()
    assert page.evaluate("sessionStorage.length") == 0
    _submit_login(page, "ann", MFA_PASSWORD, "000000")
    page.get_by_role("alert").filter(has_text="invalid username, password").wait_for()


def test_an_expired_session_leads_back_to_login(page: Any, federation: LocalFederation) -> None:
    root = Client("http://127.0.0.1", federation.port, "/api")
    root.authenticate("root", PASSWORD)
    role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Researcher"]
    root.user.create(username="brief", password=PASSWORD,
                     organization=federation.organization_ids[0], roles=role)
    login(page, federation.port, "brief", PASSWORD)
    page.get_by_role("heading", name="Collaborations").wait_for()
    # a password change ends every token issued before it, refresh tokens included
    brief = Client("http://127.0.0.1", federation.port, "/api")
    brief.authenticate("brief", PASSWORD)
    brief.user.change_password(PASSWORD, "Another-pass-2!")
    page.get_by_role("link", name="Tasks").click()
    page.get_by_text("Your session has expired; please log in again.").wait_for()
    page.get_by_role("heading", name="Log in").wait_for()
    login(page, federation.port, "brief", "Another-pass-2!")
    page.goto(url(federation.port, "#/no-such-page"))
    page.get_by_role("heading", name="Page not found").wait_for()


def test_forgotten_password_through_the_mailed_token(page: Any, mfa_server: MfaServer) -> None:
    mfa_server.add_user("bea", "bea@site.test")
    page.goto(url(mfa_server.port, "#/login"))
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Username or e-mail address").fill("bea@site.test")
    page.get_by_role("button", name="Send me a reset token").click()
    page.get_by_text("if the account exists").wait_for()
    shoot(page, "forgot-password")
    [mail] = mfa_server.sink.wait_for(1)
    token = re.search(r"^ +([A-Za-z0-9_-]{40,})\s*$", mail.get_content(), re.M).group(1)  # type: ignore[union-attr]

    page.get_by_role("link", name="Enter the token from the mail").click()
    page.get_by_label("Reset token").fill(token)
    page.get_by_label("New password", exact=True).fill("Brand-new-pass-3!")
    page.get_by_label("New password again").fill("Brand-new-pass-4!")
    page.get_by_role("button", name="Set new password").click()
    page.get_by_text("The two passwords differ.").wait_for()
    page.get_by_label("New password again").fill("Brand-new-pass-3!")
    page.get_by_role("button", name="Set new password").click()
    page.get_by_text("Your password is set; log in with it.").wait_for()
    _submit_login(page, "bea", "Brand-new-pass-3!")  # the new password opens enrolment
    page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
