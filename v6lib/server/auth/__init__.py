"""Authentication primitives of the server: secret hashing, tokens, TOTP, API keys and
login throttling.

Pure functions and small injectable services; nothing here imports falcon or touches the
database, so the resources, the services and the mock network can all reuse them.
"""

from __future__ import annotations

from v6lib.server.auth.api_keys import ApiKey, new_api_key, parse_api_key
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
from v6lib.server.auth.throttle import ThrottlePolicy, throttled_error
from v6lib.server.auth.tokens import TOKEN_KINDS, TokenKind, TokenService

__all__ = [
    "DEFAULT_COST",
    "TEST_COST",
    "TOKEN_KINDS",
    "ApiKey",
    "KdfCost",
    "PasswordPolicy",
    "ThrottlePolicy",
    "TokenKind",
    "TokenService",
    "check_password_policy",
    "dummy_verify",
    "hash_secret",
    "needs_rehash",
    "new_api_key",
    "parse_api_key",
    "throttled_error",
    "verify_secret",
]
