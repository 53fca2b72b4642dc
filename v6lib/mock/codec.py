"""Inputs and results on their way through the mock: the real serialization, and the real
encryption with one RSA key per organization when the network is encrypted.

Production path, kept here: the input dict is serialized once, then sealed for the one
organization that runs it, bound to (task uid, organization, "input"); a result is
serialized at the organization that produced it and sealed for the task's initiating
organization, bound to (task uid, producing organization, "result").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib import serialization
from v6lib.crypto import (
    Binding,
    RSAPrivateKey,
    generate_private_key,
    open_sealed,
    public_key_b64,
    seal,
)

__all__ = ["KEY_BITS", "PayloadCodec"]

#: Key size of the mock organizations: the smallest the crypto module accepts, to keep
#: network start-up fast; the protocol is the same at any size.
KEY_BITS = 2048


class PayloadCodec:
    """Serialize (and, if ``encrypted``, seal) payloads for the organizations of a network.

    Keys are generated once, when the codec is made.
    """

    def __init__(self, organization_ids: Iterable[int], *, encrypted: bool) -> None:
        self.encrypted = encrypted
        self._keys: dict[int, RSAPrivateKey] = (
            {org: generate_private_key(KEY_BITS) for org in organization_ids} if encrypted else {}
        )

    def public_key(self, organization_id: int) -> str | None:
        """The organization's public key as the server publishes it (base64 PEM), or None."""
        key = self._keys.get(organization_id)
        return None if key is None else public_key_b64(key)

    def encode_input(self, raw: bytes, *, task_uid: str, organization_id: int) -> bytes:
        """Serialized input bytes as stored on the run of ``organization_id``."""
        if not self.encrypted:
            return raw
        binding = Binding(task_uid, organization_id, "input")
        return seal(raw, [self._keys[organization_id].public_key()], binding)

    def decode_input(self, blob: bytes, *, task_uid: str, organization_id: int) -> Any:
        """What the algorithm's wrapper reads at ``organization_id``."""
        if self.encrypted:
            binding = Binding(task_uid, organization_id, "input")
            blob = open_sealed(blob, self._keys[organization_id], binding)
        return serialization.loads(blob)

    def encode_result(
        self, raw: bytes, *, task_uid: str, organization_id: int, recipient_id: int
    ) -> bytes:
        """Serialized result bytes (from :func:`v6lib.wrappers.runner.encode_result`) as
        stored on the run: sealed for ``recipient_id``, the task's initiating organization,
        when the network is encrypted."""
        if not self.encrypted:
            return raw
        binding = Binding(task_uid, organization_id, "result")
        return seal(raw, [self._keys[recipient_id].public_key()], binding)

    def decode_result(
        self, blob: bytes | None, *, task_uid: str, organization_id: int, reader_id: int
    ) -> Any:
        """The result as ``reader_id`` sees it (only the initiating organization can open
        an encrypted one)."""
        if blob is None:
            return None
        if self.encrypted:
            binding = Binding(task_uid, organization_id, "result")
            blob = open_sealed(blob, self._keys[reader_id], binding)
        return serialization.loads(blob)
