"""Authentication primitives of the server: secret hashing, tokens, TOTP and lockout.

Pure functions and small injectable services; nothing here imports falcon or touches the
database, so the resources, the services and the mock network can all reuse them.
"""

from __future__ import annotations

from v6lib.server.auth.lockout import (
    is_locked,
    lockout_error,
    next_failed_attempts,
    remaining_lockout,
)
from v6lib.server.auth.passwords import (
    DEFAULT_COST,
    TEST_COST,
    KdfCost,
    PasswordPolicy,
    check_password_policy,
    dummy_verify,
    hash_secret,
    needs_rehash,
    verify_secret,
)
from v6lib.server.auth.tokens import TOKEN_KINDS, TokenKind, TokenService

__all__ = [
    "DEFAULT_COST",
    "TEST_COST",
    "TOKEN_KINDS",
    "KdfCost",
    "PasswordPolicy",
    "TokenKind",
    "TokenService",
    "check_password_policy",
    "dummy_verify",
    "hash_secret",
    "is_locked",
    "lockout_error",
    "needs_rehash",
    "next_failed_attempts",
    "remaining_lockout",
    "verify_secret",
]
