"""One-time account-recovery tokens: random, bound to a purpose, stored as a digest only.

A token carries 256 random bits, so a fast hash is enough to keep a database dump from
revealing it, and it lets the server find the account by the digest. The purpose is part
of what is hashed: a password-reset token does not reset a second factor, nor the other
way round.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

__all__ = ["Purpose", "new_token", "token_digest"]

Purpose = Literal["password", "mfa"]


def new_token() -> str:
    """A fresh token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str, purpose: Purpose) -> str:
    """What is stored for ``token`` issued for ``purpose``."""
    return hashlib.sha256(f"v6lib-{purpose}-reset:{token}".encode()).hexdigest()
