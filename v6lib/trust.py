"""What a client or node has seen before: pinned organization keys, encrypted collaborations.

Why: in an encrypted collaboration the server hands out the public keys that inputs and
results are sealed for, and says whether a collaboration is encrypted at all. A hostile
server operator, or an administrator who gained a node identity of another organization,
could swap a key for their own or switch encryption off, and every honest party would
seal for them or send plaintext. So keys are *trusted on first use*: the first key seen
for an organization is pinned (by its SHA-256 fingerprint), and a different key later
is refused with :class:`~v6lib.errors.KeyChangedError` naming both fingerprints, until
a person compares them out of band and accepts the new one (``v6 trust accept`` for a
researcher, ``v6 node trust`` for a node). Likewise a collaboration seen encrypted
stays encrypted for this holder: a server that later calls it plain gets
:class:`~v6lib.errors.EncryptionDowngradeError` instead of plaintext.

One store per (holder, server): the file holds pins for one server URL, so two servers
with overlapping organization ids never mix. Writes are atomic (temporary file and
rename) and the file is private (0600).
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

from v6lib.crypto import RSAPublicKey, fingerprint
from v6lib.errors import ConfigurationError, EncryptionDowngradeError, KeyChangedError

__all__ = ["TrustStore", "default_trust_path"]


def default_trust_path(server_url: str) -> Path:
    """Where a researcher's pins for ``server_url`` live (under the user's data dir)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", server_url.split("://", 1)[-1]).strip("_.")
    return Path(base, "v6lib", "trust", f"{slug or 'server'}.json")


class TrustStore:
    """Pinned key fingerprints per organization and the collaborations seen encrypted.

    Args:
        path: the JSON file to keep the pins in; ``None`` keeps them in memory only
            (they then last as long as the object: a weaker, per-session pinning).
        accept_first: pin keys never seen before without asking (trust on first use).
    """

    def __init__(self, path: Path | None, *, accept_first: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.accept_first = accept_first
        self._lock = threading.Lock()
        self._keys: dict[str, str] = {}
        self._encrypted: set[int] = set()
        self._load()

    # -- reading and writing ------------------------------------------------------------
    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            self._keys = {str(k): str(v) for k, v in dict(data.get("keys", {})).items()}
            self._encrypted = {int(c) for c in data.get("encrypted_collaborations", [])}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ConfigurationError(
                f"the trust file {self.path} cannot be read ({exc}); repair or remove it "
                "(removing it forgets every pinned key)") from exc

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data: dict[str, Any] = {"keys": dict(sorted(self._keys.items())),
                                "encrypted_collaborations": sorted(self._encrypted)}
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)

    # -- keys ---------------------------------------------------------------------------
    def pinned(self, organization_id: int) -> str | None:
        """The fingerprint pinned for the organization, if any."""
        with self._lock:
            return self._keys.get(str(organization_id))

    def check_key(self, organization_id: int, key: RSAPublicKey) -> RSAPublicKey:
        """``key`` if it is the organization's pinned key (pinning it when new).

        Raises:
            KeyChangedError: another key is pinned; nothing may be sealed for this one.
        """
        seen = fingerprint(key)
        with self._lock:
            pinned = self._keys.get(str(organization_id))
            if pinned == seen:
                return key
            if pinned is None and self.accept_first:
                self._keys[str(organization_id)] = seen
                self._save()
                return key
        raise KeyChangedError(
            f"the server now gives organization {organization_id} the public key "
            f"{_short(seen)}, but {_short(pinned) if pinned else 'no key'} is the one "
            "trusted here; someone may be trying to read that organization's data. Ask "
            "the organization for its fingerprint and, only if it matches, accept it "
            f"(`v6 trust accept {organization_id} {seen}`)",
            details={"organization_id": organization_id, "pinned": pinned, "offered": seen})

    def accept(self, organization_id: int, key_fingerprint: str) -> None:
        """Trust ``key_fingerprint`` for the organization from now on (a person decided)."""
        value = key_fingerprint.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ConfigurationError(
                "a key fingerprint is the 64 hex digits of its SHA-256 (as shown by "
                f"`v6 trust show`), got {key_fingerprint!r}")
        with self._lock:
            self._keys[str(organization_id)] = value
            self._save()

    def forget(self, organization_id: int) -> None:
        """Drop the organization's pin: its next key is trusted on first use again."""
        with self._lock:
            self._keys.pop(str(organization_id), None)
            self._save()

    # -- collaborations -----------------------------------------------------------------
    def check_encrypted(self, collaboration_id: int, encrypted: bool) -> bool:
        """The collaboration's flag, refusing a downgrade from encrypted to plain.

        Raises:
            EncryptionDowngradeError: the collaboration was seen encrypted before.
        """
        with self._lock:
            if encrypted:
                if collaboration_id not in self._encrypted:
                    self._encrypted.add(collaboration_id)
                    self._save()
                return True
            if collaboration_id not in self._encrypted:
                return False
        raise EncryptionDowngradeError(
            f"collaboration {collaboration_id} was encrypted when last seen here, and the "
            "server now says it is not; nothing is sent in plaintext. If its members "
            "really agreed to drop encryption, forget the pin with `v6 trust forget "
            f"--collaboration {collaboration_id}`",
            details={"collaboration_id": collaboration_id})

    def forget_collaboration(self, collaboration_id: int) -> None:
        """Stop insisting that the collaboration is encrypted."""
        with self._lock:
            self._encrypted.discard(collaboration_id)
            self._save()

    def snapshot(self) -> dict[str, Any]:
        """Everything pinned, for display."""
        with self._lock:
            return {"keys": {int(k): v for k, v in sorted(self._keys.items())},
                    "encrypted_collaborations": sorted(self._encrypted)}


def _short(value: str | None) -> str:
    return f"{value[:16]}..." if value else "none"
