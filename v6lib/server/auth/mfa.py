"""Time-based one-time passwords (RFC 6238) for two-factor login.

A code is accepted in the current 30-second step and one step either side (clock skew).
``matching_step`` tells the caller which step matched; storing it and passing it back as
``last_used_step`` rejects a code that was already used once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

__all__ = ["DIGITS", "INTERVAL", "matching_step", "new_secret", "provisioning_uri", "verify_code"]

DIGITS = 6
INTERVAL = 30
_WINDOW = 1


def new_secret() -> str:
    """A fresh random base32 TOTP secret (160 bits), to store with the user."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, username: str, issuer: str = "v6lib") -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually shown as a QR code)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=username, issuer_name=issuer
    )


def _normalise(code: object) -> str | None:
    if isinstance(code, int) and not isinstance(code, bool):
        code = f"{code:0{DIGITS}d}"
    if not isinstance(code, str):
        return None
    code = code.replace(" ", "").strip()
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    return code


def matching_step(secret: str, code: object, now: datetime | None = None) -> int | None:
    """The time step whose code equals ``code`` (within ±1 step), or None.

    Never raises for a malformed code or secret; they simply do not match.
    """
    normalised = _normalise(code)
    if normalised is None or not isinstance(secret, str) or not secret:
        return None
    moment = now or datetime.now(UTC)
    try:
        totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
        found = None
        for offset in range(-_WINDOW, _WINDOW + 1):
            when = moment + timedelta(seconds=offset * INTERVAL)
            # compare every candidate (no early exit) so timing does not leak which matched
            if pyotp.utils.strings_equal(totp.at(when), normalised):
                found = totp.timecode(when)
        return found
    except (ValueError, TypeError):  # secret is not valid base32
        return None


def verify_code(
    secret: str,
    code: object,
    now: datetime | None = None,
    *,
    last_used_step: int | None = None,
) -> bool:
    """True when ``code`` is valid now (±1 step) and newer than ``last_used_step``."""
    step = matching_step(secret, code, now)
    if step is None:
        return False
    return last_used_step is None or step > last_used_step
