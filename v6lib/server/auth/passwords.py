"""Hash and verify secrets (passwords, node API keys) with argon2id, and check password policy.

The hash string is the PHC format (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``): the
parameters travel inside it, so the cost can be raised later and old hashes still verify;
``needs_rehash`` tells the login code when to re-hash with the current cost.
"""

from __future__ import annotations

import string
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field

from v6lib.config.server import MAX_SECRET_LENGTH, PasswordPolicy
from v6lib.errors import ValidationError

__all__ = [
    "DEFAULT_COST",
    "MAX_SECRET_LENGTH",
    "TEST_COST",
    "KdfCost",
    "PasswordPolicy",
    "check_password_policy",
    "dummy_verify",
    "hash_secret",
    "needs_rehash",
    "verify_secret",
]

class KdfCost(BaseModel):
    """argon2id work factors. Frozen so one instance can key a hasher cache."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_cost: int = Field(default=2, ge=1)
    memory_cost_kib: int = Field(default=19 * 1024, ge=8)
    parallelism: int = Field(default=1, ge=1)


#: Production cost: OWASP's argon2id profile (19 MiB, 2 passes, 1 lane), about 20-40 ms
#: per login on one core; raise it in config on faster hardware, old hashes keep working.
DEFAULT_COST = KdfCost()
#: Cheap cost for tests and the mock network only; must be chosen explicitly.
TEST_COST = KdfCost(time_cost=1, memory_cost_kib=8, parallelism=1)


@lru_cache(maxsize=8)
def _hasher(cost: KdfCost) -> PasswordHasher:
    return PasswordHasher(
        time_cost=cost.time_cost,
        memory_cost=cost.memory_cost_kib,
        parallelism=cost.parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def hash_secret(secret: str, *, cost: KdfCost | None = None) -> str:
    """Hash ``secret`` with a fresh random salt; the result embeds its own parameters.

    Raises:
        ValidationError: the secret is not a string, is empty or is absurdly long.
    """
    if not isinstance(secret, str) or not secret:
        raise ValidationError("secret must be a non-empty string", details={"field": "password"})
    if len(secret) > MAX_SECRET_LENGTH:
        raise ValidationError(
            f"secret is longer than {MAX_SECRET_LENGTH} characters",
            details={"field": "password"},
        )
    return _hasher(cost or DEFAULT_COST).hash(secret)


def verify_secret(stored: str | None, secret: str | None) -> bool:
    """True when ``secret`` matches the ``stored`` hash.

    Never raises for bad input: a garbage, empty or missing hash and a non-string secret
    all give False. The comparison inside argon2 is constant-time.
    """
    if not isinstance(stored, str) or not isinstance(secret, str):
        return False
    if not stored.startswith("$argon2") or len(secret) > MAX_SECRET_LENGTH:
        return False
    try:
        return _hasher(DEFAULT_COST).verify(stored, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
        return False


def needs_rehash(stored: str, *, cost: KdfCost | None = None) -> bool:
    """True when ``stored`` was made with other parameters than ``cost`` (default cost).

    An unreadable hash also needs replacing, so it answers True rather than raising.
    """
    if not isinstance(stored, str) or not stored.startswith("$argon2"):
        return True
    try:
        return _hasher(cost or DEFAULT_COST).check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_secret("v6lib-dummy-secret-for-timing")


def dummy_verify(secret: str | None) -> bool:
    """Spend the time of a real verification and answer False.

    Call it when the user does not exist, so response time does not reveal which
    usernames are registered.
    """
    verify_secret(_dummy_hash(), secret if isinstance(secret, str) else "")
    return False


def _failures(password: str, policy: PasswordPolicy, username: str | None) -> list[str]:
    failed: list[str] = []
    if len(password) < policy.min_length:
        failed.append(f"be at least {policy.min_length} characters long")
    if len(password) > policy.max_length:
        failed.append(f"be at most {policy.max_length} characters long")
    if policy.require_letter and not any(c.isalpha() for c in password):
        failed.append("contain a letter")
    if policy.require_upper and not any(c.isupper() for c in password):
        failed.append("contain an uppercase letter")
    if policy.require_lower and not any(c.islower() for c in password):
        failed.append("contain a lowercase letter")
    if policy.require_digit and not any(c.isdigit() for c in password):
        failed.append("contain a digit")
    if policy.require_symbol and not any(
        c in string.punctuation or not (c.isalnum() or c.isspace()) for c in password
    ):
        failed.append("contain a special character (for example !@#$%)")
    if (
        policy.forbid_username
        and username
        and password.strip().casefold() == username.strip().casefold()
    ):
        failed.append("differ from the username")
    return failed


def check_password_policy(
    password: str, policy: PasswordPolicy | None = None, *, username: str | None = None
) -> None:
    """Raise if ``password`` breaks ``policy``; the message lists every unmet requirement.

    Raises:
        ValidationError: e.g. "password must contain a digit and contain a special
            character (for example !@#$%)"; ``details["failed"]`` lists them one by one.
    """
    if not isinstance(password, str):
        raise ValidationError("password must be a string", details={"field": "password"})
    failed = _failures(password, policy or PasswordPolicy(), username)
    if failed:
        joined = failed[0] if len(failed) == 1 else ", ".join(failed[:-1]) + " and " + failed[-1]
        raise ValidationError(
            f"password must {joined}", details={"field": "password", "failed": failed}
        )
