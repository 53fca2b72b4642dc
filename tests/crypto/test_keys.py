"""Key generation, safe storage, loading and exchange formats."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from v6lib import crypto
from v6lib.crypto import (
    fingerprint,
    generate_private_key,
    load_private_key,
    load_public_key_pem,
    public_key_b64,
    public_key_pem,
    save_private_key,
)
from v6lib.errors import ConfigurationError, EncryptionError


@pytest.fixture(scope="module")
def key() -> crypto.RSAPrivateKey:
    return generate_private_key(2048)


def test_generate_private_key_size(key: crypto.RSAPrivateKey) -> None:
    assert key.key_size == 2048
    assert key.public_key().public_numbers().e == 65537


def test_generate_rejects_small_keys() -> None:
    with pytest.raises(EncryptionError, match="2048"):
        generate_private_key(1024)


def test_save_and_load_round_trip_with_mode_0600(key: crypto.RSAPrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "keys" / "org.pem"
    save_private_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_private_key(path)
    assert loaded.private_numbers() == key.private_numbers()
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    # no temporary files are left behind
    assert [p.name for p in path.parent.iterdir()] == ["org.pem"]


def test_save_never_creates_a_readable_file_even_with_permissive_umask(
    key: crypto.RSAPrivateKey, tmp_path: Path
) -> None:
    old = os.umask(0)
    try:
        save_private_key(key, tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_save_refuses_to_overwrite_unless_asked(key: crypto.RSAPrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(b"precious")
    with pytest.raises(ConfigurationError, match=r"k\.pem.*already exists"):
        save_private_key(key, path)
    assert path.read_bytes() == b"precious"
    save_private_key(key, path, overwrite=True)
    assert load_private_key(path).private_numbers() == key.private_numbers()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_with_password(key: crypto.RSAPrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    save_private_key(key, path, password=b"s3cret")
    assert b"ENCRYPTED" in path.read_bytes()
    assert load_private_key(path, password=b"s3cret").private_numbers() == key.private_numbers()
    with pytest.raises(ConfigurationError, match=r"k\.pem"):
        load_private_key(path)


def test_load_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nope\.pem: private key file not found"):
        load_private_key(tmp_path / "nope.pem")


def test_load_garbled_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "garbled.pem"
    path.write_bytes(
        b"-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(ConfigurationError, match=r"garbled\.pem"):
        load_private_key(path)
    path.write_bytes(b"\x00\x01 random junk")
    with pytest.raises(ConfigurationError, match=r"garbled\.pem"):
        load_private_key(path)


def test_load_non_rsa_key_is_refused(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigurationError, match=r"ec\.pem.*RSA"):
        load_private_key(path)


def test_public_key_pem_and_b64_round_trip(key: crypto.RSAPrivateKey) -> None:
    pem = public_key_pem(key)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert public_key_pem(key.public_key()) == pem
    b64 = public_key_b64(key)
    assert base64.b64decode(b64) == pem
    for form in (pem, pem.decode(), b64, b64.encode(), f"  {b64}\n"):
        assert load_public_key_pem(form).public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize(
    "bad", [b"", "not a key", base64.b64encode(b"-----BEGIN PUBLIC KEY-----\nxx")]
)
def test_load_public_key_rejects_garbage(bad: bytes | str) -> None:
    with pytest.raises(EncryptionError, match="public key"):
        load_public_key_pem(bad)


def test_load_public_key_rejects_non_rsa() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(EncryptionError, match="RSA"):
        load_public_key_pem(pem)


def test_fingerprint_is_sha256_of_spki_der(key: crypto.RSAPrivateKey) -> None:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert fingerprint(key) == hashlib.sha256(der).hexdigest()
    assert fingerprint(key.public_key()) == fingerprint(key)
    assert fingerprint(generate_private_key(2048)) != fingerprint(key)


def test_fingerprint_rejects_non_keys() -> None:
    with pytest.raises(EncryptionError):
        fingerprint("not a key")  # type: ignore[arg-type]


def test_package_exports_everything_in_all() -> None:
    for name in crypto.__all__:
        assert getattr(crypto, name) is not None
    assert {"seal", "open_sealed", "seal_stream", "open_stream", "Binding"} <= set(crypto.__all__)
