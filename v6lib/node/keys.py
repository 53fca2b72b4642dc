"""The node's end of the encryption protocol: its private key and other organizations' keys.

Why one object: the daemon (run inputs and results) and the proxy (subtask inputs and
their results) must seal and open with the same key material and the same
:class:`~v6lib.crypto.Binding` rules; public keys fetched from the server are cached
here once for both, and checked against the keys this node pinned before
(:class:`~v6lib.trust.TrustStore`): a key swapped on the server is refused, so nothing is
ever sealed for it. When the collaboration is not encrypted, payloads pass unchanged.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from v6lib.byte_source import ByteSource
from v6lib.crypto import (
    Binding,
    RSAPrivateKey,
    RSAPublicKey,
    TaskBinding,
    load_public_key_pem,
    open_sealed,
    open_stream,
    public_key_b64,
    seal,
)
from v6lib.errors import EncryptionError
from v6lib.trust import TrustStore

__all__ = ["NodeKeys"]

# Fetches an organization by id (``GET /organization/{id}``) as a dict.
OrganizationGetter = Callable[[int], dict[str, Any]]


class NodeKeys:
    """Seal/open payloads for one node.

    Args:
        encrypted: whether the node's collaboration is encrypted.
        private_key: the organization's private key (required when ``encrypted``).
        organization_getter: fetches an organization, to learn its ``public_key``.
        trust: the node's pinned keys; in-memory pins when omitted.
    """

    def __init__(
        self,
        *,
        encrypted: bool,
        private_key: RSAPrivateKey | None,
        organization_getter: OrganizationGetter,
        trust: TrustStore | None = None,
    ) -> None:
        if encrypted and private_key is None:
            raise EncryptionError(
                "the collaboration is encrypted but the node has no private key; set "
                "encryption.private_key in the node configuration"
            )
        self.encrypted = encrypted
        self.private_key = private_key
        self._get_org = organization_getter
        self.trust = trust if trust is not None else TrustStore(None)
        self._cache: dict[int, RSAPublicKey] = {}
        self._lock = threading.Lock()

    def public_key_b64(self) -> str | None:
        return public_key_b64(self.private_key) if self.private_key is not None else None

    def public_key_of(self, org_id: int) -> RSAPublicKey:
        """The organization's public key from the server (cached), if it is the pinned one.

        Raises:
            EncryptionError: the organization has no key.
            KeyChangedError: the server offers another key than the one pinned here.
        """
        with self._lock:
            if org_id in self._cache:
                return self._cache[org_id]
        key_b64 = self._get_org(org_id).get("public_key")
        if not key_b64:
            raise EncryptionError(
                f"organization {org_id} has no public key on the server; its node must "
                "upload one (v6 node create-private-key --upload) before it can take part "
                "in an encrypted collaboration"
            )
        key = self.trust.check_key(org_id, load_public_key_pem(key_b64))
        with self._lock:
            self._cache[org_id] = key
        return key

    def forget(self, org_id: int) -> None:
        with self._lock:
            self._cache.pop(org_id, None)

    def seal_input(self, data: bytes, task: TaskBinding, org_id: int) -> bytes:
        """Seal a (sub)task's input for ``org_id``, the organization that runs it."""
        if not self.encrypted:
            return data
        return seal(data, [self.public_key_of(org_id)], task.input(org_id))

    def seal_with(self, data: bytes, public_key: RSAPublicKey, binding: Binding) -> bytes:
        return seal(data, [public_key], binding) if self.encrypted else data

    def open_stream(self, src: ByteSource, dst: BinaryIO, binding: Binding) -> None:
        """:meth:`open` in constant memory, from ``src`` into ``dst`` (big results)."""
        if not self.encrypted:
            shutil.copyfileobj(src, dst, 1 << 20)
            return
        assert self.private_key is not None
        open_stream(src, dst, self.private_key, binding)

    def open(self, blob: bytes, binding: Binding) -> bytes:
        """Open a payload addressed to this node; plain collaborations pass through."""
        if not self.encrypted:
            return blob
        assert self.private_key is not None
        return open_sealed(blob, self.private_key, binding)
