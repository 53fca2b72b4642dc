"""RSA key pairs of organizations: create, store safely on disk, load, exchange and identify.

An organization's private key opens the envelopes addressed to it (see
:mod:`v6lib.crypto.envelope`); its public key is uploaded to the server, which stores it
base64-encoded (as vantage6 does), so :func:`load_public_key_pem` accepts both raw PEM and
base64 of PEM. Keys are identified by :func:`fingerprint`, the SHA-256 of the DER
SubjectPublicKeyInfo, which is also how envelope recipient slots are addressed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from v6lib.errors import ConfigurationError, EncryptionError

__all__ = [
    "RSAPrivateKey",
    "RSAPublicKey",
    "fingerprint",
    "fingerprint_bytes",
    "generate_private_key",
    "load_private_key",
    "load_public_key_pem",
    "public_key_b64",
    "public_key_pem",
    "save_private_key",
]

log = logging.getLogger(__name__)

#: Smallest modulus accepted when generating keys; 2048 is the floor NIST still allows.
MIN_BITS = 2048


def generate_private_key(bits: int = 3072) -> RSAPrivateKey:
    """A fresh RSA private key (public exponent 65537).

    3072 bits is the default because it matches AES-128-level security and stays fast
    enough for one private-key operation per opened envelope.
    """
    if not isinstance(bits, int) or bits < MIN_BITS:
        raise EncryptionError(f"RSA key size must be an integer >= {MIN_BITS} bits, got {bits!r}")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def save_private_key(
    key: RSAPrivateKey,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    password: bytes | None = None,
) -> None:
    """Write ``key`` as PKCS#8 PEM to ``path`` with mode 0600.

    The file is created under a temporary name with mode 0600 from the first byte (never
    readable by others, not even briefly) and then renamed into place, so a crash leaves
    either the old file or the complete new one. An existing file is kept unless
    ``overwrite`` is true, because losing an organization's private key makes every
    envelope addressed to it unreadable.
    """
    if not isinstance(key, RSAPrivateKey):
        raise EncryptionError(f"expected an RSA private key, got {type(key).__name__}")
    target = Path(path)
    if target.exists() and not overwrite:
        raise ConfigurationError(
            f"{target}: a private key file already exists; refusing to replace it "
            "(pass overwrite=True to replace it on purpose)"
        )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    directory = target.parent if str(target.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file with O_EXCL and mode 0600 before any byte is written.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ConfigurationError(f"{target}: cannot create private key file: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise ConfigurationError(f"{target}: cannot write private key file: {exc}") from exc


def load_private_key(
    path: str | os.PathLike[str], *, password: bytes | None = None
) -> RSAPrivateKey:
    """Read an RSA private key from a PEM (or DER) file.

    Raises ConfigurationError naming the file when it is missing, unreadable, not a key,
    or not RSA, because the path normally comes from a node or client configuration.
    """
    source = Path(path)
    try:
        data = source.read_bytes()
        mode = source.stat().st_mode
    except FileNotFoundError:
        raise ConfigurationError(
            f"{source}: private key file not found; check the configured private_key path "
            "or create one with generate_private_key/save_private_key"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"{source}: cannot read private key file: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s: private key file is accessible by other users; chmod 600 it", source)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = serialization.load_der_private_key(data, password=password)
    except TypeError as exc:
        raise ConfigurationError(f"{source}: private key password problem: {exc}") from exc
    except (ValueError, binascii.Error) as exc:
        raise ConfigurationError(
            f"{source}: not a readable private key (expected PEM or DER): {exc}"
        ) from exc
    except Exception as exc:  # the backend raises UnsupportedAlgorithm and friends
        raise ConfigurationError(f"{source}: cannot load private key: {exc}") from exc
    if not isinstance(key, RSAPrivateKey):
        raise ConfigurationError(
            f"{source}: the key is {type(key).__name__}, but v6lib encryption needs an RSA key"
        )
    return key


def _public(key_or_pub: RSAPrivateKey | RSAPublicKey) -> RSAPublicKey:
    if isinstance(key_or_pub, RSAPrivateKey):
        return key_or_pub.public_key()
    if isinstance(key_or_pub, RSAPublicKey):
        return key_or_pub
    raise EncryptionError(
        f"expected an RSA private or public key, got {type(key_or_pub).__name__}"
    )


def public_key_pem(key_or_pub: RSAPrivateKey | RSAPublicKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of a key (private keys give their public half)."""
    return _public(key_or_pub).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_b64(key_or_pub: RSAPrivateKey | RSAPublicKey) -> str:
    """Base64 of the public PEM: the form the server stores and hands out."""
    return base64.b64encode(public_key_pem(key_or_pub)).decode("ascii")


def load_public_key_pem(data: bytes | str) -> RSAPublicKey:
    """Parse a public key given as PEM or as base64 of PEM (the server's storage form)."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    raw = raw.strip()
    if not raw.startswith(b"-----BEGIN"):
        try:
            raw = base64.b64decode(raw, validate=False).strip()
        except (binascii.Error, ValueError) as exc:
            raise EncryptionError(f"public key is neither PEM nor base64 of PEM: {exc}") from exc
    try:
        key = serialization.load_pem_public_key(raw)
    except Exception as exc:
        raise EncryptionError(
            f"public key is neither PEM nor base64 of PEM ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(key, RSAPublicKey):
        raise EncryptionError(f"public key is {type(key).__name__}, but an RSA key is required")
    return key


def fingerprint_bytes(key_or_pub: RSAPrivateKey | RSAPublicKey) -> bytes:
    """Raw 32-byte SHA-256 of the DER SubjectPublicKeyInfo (envelope slot identifier)."""
    der = _public(key_or_pub).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def fingerprint(key_or_pub: RSAPrivateKey | RSAPublicKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo: a stable, human-comparable key id."""
    return fingerprint_bytes(key_or_pub).hex()
