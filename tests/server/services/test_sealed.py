"""Plaintext payloads are refused in encrypted collaborations."""

from __future__ import annotations

import base64

import pytest

from v6lib.crypto import Binding, generate_private_key, seal
from v6lib.errors import ValidationError
from v6lib.server.services.sealed import require_sealed


@pytest.fixture(scope="module")
def sealed_b64() -> str:
    key = generate_private_key(2048)
    blob = seal(b'{"method": "x"}', [key.public_key()], Binding("t", 2, "input", "img", 1))
    return base64.b64encode(blob).decode()


def test_an_envelope_passes(sealed_b64: str) -> None:
    require_sealed(sealed_b64, field="organizations.input", organization_id=2)


def test_nothing_to_check_passes() -> None:
    require_sealed(None, field="result", organization_id=2)


def test_plaintext_is_refused_naming_the_organization() -> None:
    plain = base64.b64encode(b'{"method": "central_average"}').decode()
    with pytest.raises(ValidationError, match="organization 3 is not a sealed envelope"):
        require_sealed(plain, field="organizations.input", organization_id=3)


def test_magic_bytes_in_front_of_plaintext_are_refused(sealed_b64: str) -> None:
    """Four magic bytes are not an envelope: the whole framing is checked."""
    head = base64.b64decode(sealed_b64)[:4]
    plain = base64.b64encode(head + b'{"method": "central_average"}').decode()
    with pytest.raises(ValidationError, match="not a sealed envelope"):
        require_sealed(plain, field="organizations.input", organization_id=3)


def test_garbage_is_refused_as_not_base64() -> None:
    with pytest.raises(ValidationError, match="not valid base64"):
        require_sealed("%%%%not-base64%%%", field="result", organization_id=3)
