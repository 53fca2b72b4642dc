"""Where the token-signing key comes from; it is never kept in the database.

Whoever holds the key can forge any token, so a database dump must not contain it.
The key is, in this order:

1. ``jwt_secret_key`` from the configuration (or ``V6_SERVER_JWT_SECRET_KEY``);
2. the key file ``jwt_secret_file`` (``V6_SERVER_JWT_SECRET_FILE``; default
   ``jwt_secret.key`` in the server's data directory), created 0600 with a random key at
   the first start. Every worker and every instance reads the same file, so instances on
   several machines need a copy of it (or one of the settings above).

Servers before this version generated the key into the ``server_meta`` row
``jwt_secret``. At start that value is written to the key file (when there is none yet)
and the row is deleted, so tokens issued before the upgrade stay valid. This happens at
start and not in an Alembic migration because a migration sees the database but not the
configuration that says where the file goes, and because the file must be written and
synced before the row may go.

The database keeps a verifier of the key only (an argon2 hash, row ``jwt_key_check``),
so an instance that finds no key file and would sign with a new random key while the
others use the old one refuses to start instead, saying what to copy where.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from sqlalchemy.orm import Session

from v6lib.config import ServerConfig
from v6lib.errors import ConfigurationError
from v6lib.private_files import is_private, write_private
from v6lib.server.auth.passwords import DEFAULT_COST, KdfCost, hash_secret, verify_secret
from v6lib.server.auth.tokens import MIN_SECRET_BYTES
from v6lib.server.db.models import ServerMeta

__all__ = ["CHECK_ROW", "LEGACY_ROW", "new_secret", "read_key_file", "rotate_key_file",
           "signing_key"]

#: The row in which servers before this version kept the key in clear.
LEGACY_ROW = "jwt_secret"
#: The row holding an argon2 hash of the key in use, to detect instances that disagree.
CHECK_ROW = "jwt_key_check"

log = logging.getLogger("v6lib.server.signing_key")


def new_secret() -> str:
    """A random key: 48 bytes, URL-safe base64 (64 characters)."""
    return secrets.token_urlsafe(48)


def read_key_file(path: Path) -> str:
    """The key in ``path`` (surrounding whitespace ignored).

    Raises:
        FileNotFoundError: there is no such file.
        ConfigurationError: it cannot be read or holds too short a key.
    """
    try:
        key = path.read_text(encoding="utf-8").strip()
        private = is_private(path)
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read the token signing key: {exc}") from exc
    if len(key.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"{path}: the token signing key must be at least {MIN_SECRET_BYTES} bytes; "
            "delete the file only if no other instance uses it (see rotating the key in "
            "docs/server-admin.md)")
    if not private:
        log.warning("%s: the token signing key is readable by other users; chmod 600 it",
                    path)
    return key


def _key_from_file(path: Path, initial: str | None) -> tuple[str, bool]:
    """The key in ``path``, creating the file with ``initial`` (or a new key) when missing.

    Returns the key and whether this call created the file.
    """
    try:
        return read_key_file(path), False
    except FileNotFoundError:
        pass
    key = initial or new_secret()
    try:
        created = write_private(path, key + "\n", exclusive=True)
    except OSError as exc:
        raise ConfigurationError(
            f"{path}: cannot create the token signing key file: {exc}; set "
            "jwt_secret_file to a writable place or jwt_secret_key") from exc
    if created:
        log.info("created the token signing key file %s", path)
        return key, True
    return read_key_file(path), False  # another worker or instance made it meanwhile


def _check(session: Session, key: str, *, created: Path | None, kdf_cost: KdfCost) -> None:
    """Compare ``key`` with the verifier in the database; record it when there is none.

    Args:
        created: the key file this start created, if it did. A fresh random key that
            does not match means other instances sign with another key: refuse.
    """
    row = session.get(ServerMeta, CHECK_ROW)
    if row is None:
        session.add(ServerMeta(key=CHECK_ROW, value=hash_secret(key, cost=kdf_cost)))
        session.flush()
        return
    if verify_secret(row.value, key):
        return
    if created is not None:
        created.unlink(missing_ok=True)
        raise ConfigurationError(
            f"this database is in use with another token signing key, and {created} did "
            "not exist: copy the key file from the machine of another server instance "
            f"to {created} (mode 0600), or set jwt_secret_key or jwt_secret_file to the "
            "shared key. To start over with a new key (every session ends), run "
            "`v6 server rotate-key`.")
    log.warning("the token signing key differs from the one this database was used with "
                "before: tokens signed with the old key are refused. Every server instance "
                "must use the same key.")
    row.value = hash_secret(key, cost=kdf_cost)
    session.flush()


def signing_key(session: Session, config: ServerConfig, *,
                kdf_cost: KdfCost = DEFAULT_COST) -> str:
    """The key that signs and verifies this server's tokens (see the module docstring).

    Moves a key of an earlier version out of the database; the caller commits.

    Raises:
        ConfigurationError: the key file cannot be read or made, or this instance's key
            is a new one while the database is in use with another.
    """
    legacy = session.get(ServerMeta, LEGACY_ROW)
    created: Path | None = None
    if config.jwt_secret_key is not None:
        key = config.jwt_secret_key.get_secret_value()
    else:
        path = config.jwt_secret_path
        key, made = _key_from_file(path, legacy.value if legacy is not None else None)
        created = path if made else None
        if legacy is not None and made:
            log.info("moved the token signing key from the database to %s", path)
    if legacy is not None:
        # with jwt_secret_key set, earlier versions made this row but never signed with it
        session.delete(legacy)
        session.flush()
    _check(session, key, created=created, kdf_cost=kdf_cost)
    return key


def rotate_key_file(session: Session, config: ServerConfig, *,
                    kdf_cost: KdfCost = DEFAULT_COST) -> Path:
    """Write a new random key to the key file and record it; return the file's path.

    Every token signed with the old key is refused from the moment a server (re)starts
    with the new one. The caller commits.

    Raises:
        ConfigurationError: the key comes from ``jwt_secret_key``, not from a file.
    """
    if config.jwt_secret_key is not None:
        raise ConfigurationError(
            "the token signing key comes from jwt_secret_key (the configuration or "
            "V6_SERVER_JWT_SECRET_KEY): put a new random value of 32 or more characters "
            "there and restart every server instance")
    path = config.jwt_secret_path
    key = new_secret()
    write_private(path, key + "\n")
    row = session.get(ServerMeta, CHECK_ROW)
    if row is None:
        session.add(ServerMeta(key=CHECK_ROW, value=hash_secret(key, cost=kdf_cost)))
    else:
        row.value = hash_secret(key, cost=kdf_cost)
    legacy = session.get(ServerMeta, LEGACY_ROW)
    if legacy is not None:
        session.delete(legacy)
    session.flush()
    log.warning("wrote a new token signing key to %s; tokens signed before are refused "
                "once the servers restart", path)
    return path
