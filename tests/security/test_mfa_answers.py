"""Finding 14d: with two-factor authentication on, a right password without a code was
answered differently from a wrong password, which turned the login into an oracle for
passwords and defeated the point of the second factor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

from tests.security.conftest import LiveFactory
from tests.server.conftest import ROOT_PASSWORD, Api

_VARYING = {"date", "x-request-id"}


def _wrong_code(secret: str) -> str:
    totp, now = pyotp.TOTP(secret), datetime.now(UTC)
    valid = {totp.at(now + timedelta(seconds=30 * k)) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in valid)


def test_wrong_password_and_missing_or_wrong_code_look_the_same(live: LiveFactory) -> None:
    # Prepare: root has two-factor authentication set up and used once
    server = live(config={"mfa_required": True})
    anonymous = Api(server.app)
    enrol = anonymous.post("/token/user", json={"username": "root", "password": ROOT_PASSWORD})
    secret = enrol.json["otp_secret"]
    code = pyotp.TOTP(secret).now()
    assert anonymous.post("/token/user", json={"username": "root", "password": ROOT_PASSWORD,
                                               "mfa_code": code}).status_code == 200
    attempts = {
        "wrong password": {"username": "root", "password": "not-the-password"},
        "wrong password, some code": {"username": "root", "password": "not-the-password",
                                      "mfa_code": _wrong_code(secret)},
        "right password, no code": {"username": "root", "password": ROOT_PASSWORD},
        "right password, wrong code": {"username": "root", "password": ROOT_PASSWORD,
                                       "mfa_code": _wrong_code(secret)},
        "right password, used code": {"username": "root", "password": ROOT_PASSWORD,
                                      "mfa_code": code},
        "unknown user": {"username": "nobody", "password": ROOT_PASSWORD},
    }
    # Execute: each from its own address, so no attempt is throttled by another
    answers = {what: server.post("/token/user", json=body, source=f"127.0.0.{10 + i}")
               for i, (what, body) in enumerate(attempts.items())}
    # Assert: same status, same body bytes, same headers apart from request id and date
    reference = answers["wrong password"]
    assert reference.status_code == 401
    assert b"mfa_code" in reference.content  # says codes exist, for every account alike
    for what, answer in answers.items():
        assert answer.status_code == reference.status_code, what
        assert answer.content == reference.content, (what, answer.content)
        headers = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in _VARYING}
        assert headers == {k.lower(): v for k, v in reference.headers.items()
                           if k.lower() not in _VARYING}, what
        assert answer.headers["X-Request-ID"] != reference.headers["X-Request-ID"] or \
            answer is reference
