"""Trust on first use of organization keys, and encryption flags that cannot be lowered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v6lib.crypto import fingerprint, generate_private_key
from v6lib.errors import ConfigurationError, EncryptionDowngradeError, KeyChangedError
from v6lib.trust import TrustStore

A, B = generate_private_key(2048).public_key(), generate_private_key(2048).public_key()


def test_first_key_is_pinned_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    assert TrustStore(path).check_key(1, A) is A
    again = TrustStore(path)
    assert again.check_key(1, A) is A
    with pytest.raises(KeyChangedError) as caught:
        again.check_key(1, B)
    assert caught.value.details == {"organization_id": 1, "pinned": fingerprint(A),
                                    "offered": fingerprint(B)}
    assert path.stat().st_mode & 0o777 == 0o600


def test_accepting_a_fingerprint_replaces_the_pin(tmp_path: Path) -> None:
    store = TrustStore(tmp_path / "pins.json")
    store.check_key(1, A)
    store.accept(1, fingerprint(B))
    assert store.check_key(1, B) is B
    with pytest.raises(KeyChangedError):
        store.check_key(1, A)


def test_without_first_use_acceptance_unknown_keys_are_refused() -> None:
    with pytest.raises(KeyChangedError, match="no key"):
        TrustStore(None, accept_first=False).check_key(1, A)


def test_an_encrypted_collaboration_cannot_be_downgraded(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    assert TrustStore(path).check_encrypted(4, False) is False  # plain from the start: fine
    assert TrustStore(path).check_encrypted(4, True) is True
    with pytest.raises(EncryptionDowngradeError, match="collaboration 4"):
        TrustStore(path).check_encrypted(4, False)
    store = TrustStore(path)
    store.forget_collaboration(4)
    assert store.check_encrypted(4, False) is False


def test_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    path.write_text(json.dumps({"keys": [1, 2]}))
    with pytest.raises(ConfigurationError, match="repair or remove it"):
        TrustStore(path)


def test_the_file_is_never_written_through_a_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    path = tmp_path / "pins.json"
    store = TrustStore(path)
    path.symlink_to(target)
    store.check_key(1, A)  # replaces the link by a file; never writes into the target
    assert target.read_text() == "keep" and not path.is_symlink()
