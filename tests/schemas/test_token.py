"""Login payloads: two-factor codes as vantage6's client sends them."""

from __future__ import annotations

import pydantic
import pytest

from v6lib.schemas.token import UserLogin


@pytest.mark.parametrize(("given", "stored"), [
    (123456, "123456"), (12345, "012345"), (0, "000000"), ("012345", "012345"), (None, None)])
def test_codes_as_integers_or_strings(given: object, stored: str | None) -> None:
    login = UserLogin.model_validate({"username": "u", "password": "p", "mfa_code": given})
    assert login.mfa_code == stored


@pytest.mark.parametrize("given", [True, -1, 10 ** 6, 1.5, ["1"]])
def test_other_codes_are_invalid(given: object) -> None:
    with pytest.raises(pydantic.ValidationError):
        UserLogin.model_validate({"username": "u", "password": "p", "mfa_code": given})
