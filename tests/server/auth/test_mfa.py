"""TOTP codes: window, reuse, malformed input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from v6lib.server.auth.mfa import matching_step, new_secret, provisioning_uri, verify_code

NOW = datetime(2026, 3, 1, 9, 0, 10, tzinfo=UTC)


@pytest.fixture
def secret() -> str:
    return new_secret()


def test_new_secrets_are_random_base32():
    first, second = new_secret(), new_secret()
    assert first != second
    assert len(first) == 32
    pyotp.TOTP(first).now()  # decodes as base32


def test_provisioning_uri(secret):
    uri = provisioning_uri(secret, "alice", issuer="Example")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth"
    assert parsed.netloc == "totp"
    assert "alice" in parsed.path
    query = parse_qs(parsed.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["Example"]


def test_current_code_is_accepted(secret):
    code = pyotp.TOTP(secret).at(NOW)
    assert verify_code(secret, code, NOW)


@pytest.mark.parametrize("shift", [-30, 30])
def test_one_step_either_side_is_accepted(secret, shift):
    code = pyotp.TOTP(secret).at(NOW + timedelta(seconds=shift))
    assert verify_code(secret, code, NOW)


@pytest.mark.parametrize("shift", [-90, 90])
def test_codes_outside_the_window_are_refused(secret, shift):
    code = pyotp.TOTP(secret).at(NOW + timedelta(seconds=shift))
    assert not verify_code(secret, code, NOW)


def test_reused_code_is_refused(secret):
    code = pyotp.TOTP(secret).at(NOW)
    step = matching_step(secret, code, NOW)
    assert step == pyotp.TOTP(secret).timecode(NOW)
    assert not verify_code(secret, code, NOW, last_used_step=step)
    later = pyotp.TOTP(secret).at(NOW + timedelta(seconds=30))
    assert verify_code(secret, later, NOW + timedelta(seconds=30), last_used_step=step)


def test_code_with_spaces_and_int_codes(secret):
    code = pyotp.TOTP(secret).at(NOW)
    assert verify_code(secret, f"{code[:3]} {code[3:]}", NOW)
    assert verify_code(secret, int(code), NOW)


@pytest.mark.parametrize(
    "bad", ["", "12345", "1234567", "abcdef", None, 3.5, "\uff11\uff12\uff13\uff14\uff15\uff16"]
)
def test_malformed_codes_are_refused(secret, bad):
    assert not verify_code(secret, bad, NOW)


def test_bad_secret_never_raises():
    assert not verify_code("not base32 !!", "123456", NOW)
    assert not verify_code("", "123456", NOW)


def test_default_now_uses_the_real_clock(secret):
    assert verify_code(secret, pyotp.TOTP(secret).now())
