"""The exception hierarchy: stable codes, HTTP statuses and the code -> class mapping."""

from __future__ import annotations

import pytest

from v6lib import errors


def _all_error_classes() -> list[type[errors.V6Error]]:
    return [getattr(errors, name) for name in errors.__all__ if name[0].isupper()]


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in _all_error_classes()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__name__)
def test_code_maps_back_to_its_class(cls: type[errors.V6Error]) -> None:
    assert errors.error_class_for_code(cls.code) is cls


def test_unknown_code_maps_to_base() -> None:
    assert errors.error_class_for_code("no-such-code") is errors.V6Error
    assert errors.error_class_for_code(None) is errors.V6Error


def test_to_dict_carries_code_message_and_details() -> None:
    error = errors.NotFoundError("task 7 does not exist", details={"id": 7})
    assert error.to_dict() == {
        "code": "not_found",
        "message": "task 7 does not exist",
        "details": {"id": 7},
    }
    assert errors.ConflictError("x").to_dict() == {"code": "conflict", "message": "x"}


def test_crypto_failures_are_distinct_decryption_errors() -> None:
    kinds = {errors.TamperedError, errors.WrongKeyError, errors.BindingMismatchError,
             errors.TruncatedError}
    for kind in kinds:
        assert issubclass(kind, errors.DecryptionError)
        assert issubclass(kind, errors.EncryptionError)
    assert len({k.code for k in kinds}) == len(kinds)


def test_client_errors_are_4xx_and_exit_codes_nonzero() -> None:
    for cls in (errors.ValidationError, errors.AuthenticationError, errors.PermissionDenied,
                errors.NotFoundError, errors.ConflictError, errors.PayloadTooLargeError):
        assert 400 <= cls.http_status < 500
    for cls in _all_error_classes():
        assert cls.exit_code != 0


def test_busy_is_a_kind_of_unavailable_with_a_retry_after() -> None:
    busy = errors.ServerBusyError("retry later", details={"retry_after_seconds": 5})
    assert isinstance(busy, errors.ServerUnavailableError) and busy.http_status == 503
    assert busy.code == "server_busy" and busy.retry_after == 5.0
    assert errors.RateLimitedError("x", details={"retry_after_seconds": 0.5}).retry_after == 0.5
    for odd in (None, "5", -1, True):
        assert errors.RateLimitedError("x", details={"retry_after_seconds": odd}).retry_after \
            is None
    assert errors.RateLimitedError("x").retry_after is None
