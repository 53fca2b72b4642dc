"""Secret hashing and password policy."""

from __future__ import annotations

import pytest

from v6lib.errors import ValidationError
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


def test_hash_then_verify_roundtrip():
    stored = hash_secret("Correct-Horse-1", cost=TEST_COST)
    assert stored.startswith("$argon2id$")
    assert verify_secret(stored, "Correct-Horse-1")
    assert not verify_secret(stored, "correct-horse-1")
    assert not verify_secret(stored, "")


def test_same_secret_gets_different_salts():
    assert hash_secret("abc", cost=TEST_COST) != hash_secret("abc", cost=TEST_COST)


def test_parameters_are_encoded_in_the_hash():
    stored = hash_secret("abc", cost=TEST_COST)
    assert "m=8,t=1,p=1" in stored
    # a hash made with other parameters still verifies: the parameters come from the hash
    assert verify_secret(stored, "abc")


def test_default_cost_is_used_unless_chosen():
    stored = hash_secret("abc")
    assert f"m={DEFAULT_COST.memory_cost_kib},t={DEFAULT_COST.time_cost}" in stored
    assert not needs_rehash(stored)


def test_needs_rehash_when_cost_changes():
    cheap = hash_secret("abc", cost=TEST_COST)
    assert needs_rehash(cheap)  # against the default cost
    assert not needs_rehash(cheap, cost=TEST_COST)
    assert needs_rehash(cheap, cost=KdfCost(time_cost=2, memory_cost_kib=8, parallelism=1))


@pytest.mark.parametrize(
    "garbage",
    ["", "not-a-hash", "$argon2id$v=19$m=8,t=1,p=1$broken", "$2b$12$abcdefghijk", None, 12],
)
def test_verify_is_false_on_garbage_hashes(garbage):
    assert verify_secret(garbage, "abc") is False


def test_verify_is_false_on_non_string_secret():
    stored = hash_secret("abc", cost=TEST_COST)
    assert verify_secret(stored, None) is False
    assert verify_secret(stored, b"abc") is False  # type: ignore[arg-type]


def test_needs_rehash_true_for_garbage():
    assert needs_rehash("nonsense")


@pytest.mark.parametrize("bad", ["", None, "x" * 5000])
def test_hash_rejects_unusable_secrets(bad):
    with pytest.raises(ValidationError):
        hash_secret(bad, cost=TEST_COST)


def test_dummy_verify_is_always_false():
    assert dummy_verify("anything") is False
    assert dummy_verify(None) is False


def test_good_password_passes_default_policy():
    check_password_policy("Str0ng!pass", PasswordPolicy(), username="alice")


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Sh0rt!", "at least 8 characters"),
        ("NoDigits!!", "contain a digit"),
        ("nouppercase1!", "contain an uppercase letter"),
        ("NOLOWERCASE1!", "contain a lowercase letter"),
        ("NoSymbols123", "contain a special character"),
        ("12345678!", "contain a letter"),
    ],
)
def test_policy_names_the_failed_requirement(password, fragment):
    with pytest.raises(ValidationError) as info:
        check_password_policy(password, PasswordPolicy())
    assert fragment in info.value.message
    assert info.value.details["field"] == "password"
    assert len(info.value.details["failed"]) >= 1


def test_policy_lists_only_what_failed():
    with pytest.raises(ValidationError) as info:
        check_password_policy("abcdefgh", PasswordPolicy())
    failed = info.value.details["failed"]
    assert failed == [
        "contain an uppercase letter",
        "contain a digit",
        "contain a special character (for example !@#$%)",
    ]
    assert info.value.message == (
        "password must contain an uppercase letter, contain a digit and contain a special "
        "character (for example !@#$%)"
    )


def test_policy_forbids_username_as_password():
    with pytest.raises(ValidationError, match="differ from the username"):
        check_password_policy("Admin-123!", PasswordPolicy(), username="admin-123!")


def test_relaxed_policy_is_configurable():
    relaxed = PasswordPolicy(
        min_length=4, require_upper=False, require_symbol=False, require_digit=False
    )
    check_password_policy("abcd", relaxed)
    with pytest.raises(ValidationError, match="at least 4"):
        check_password_policy("abc", relaxed)


def test_too_long_password_is_refused():
    with pytest.raises(ValidationError, match="at most 20"):
        check_password_policy("Aa1!" * 6, PasswordPolicy(max_length=20))


def test_policy_rejects_unknown_settings():
    with pytest.raises(Exception, match="extra"):
        PasswordPolicy(min_lenght=3)  # type: ignore[call-arg]


def test_non_string_password_is_a_validation_error():
    with pytest.raises(ValidationError, match="must be a string"):
        check_password_policy(12345678, PasswordPolicy())  # type: ignore[arg-type]
