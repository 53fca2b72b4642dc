"""Inputs and results on their way through the mock: the real serialization, and the real
encryption with one RSA key per organization when the network is encrypted.

Production path, kept here: the input dict is serialized once, then sealed for the one
organization that runs it, bound to the task (:class:`~v6lib.crypto.TaskBinding`) and
that organization; a result is serialized at the organization that produced it and
sealed for the task's initiating organization, bound to the task and the producer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib import serialization
from v6lib.crypto import (
    RSAPrivateKey,
    TaskBinding,
    generate_private_key,
    open_sealed,
    public_key_b64,
    seal,
)

__all__ = ["KEY_BITS", "MockKeyring"]

#: Key size of the mock organizations: the smallest the crypto module accepts, to keep
#: network start-up fast; the protocol is the same at any size.
KEY_BITS = 2048


class MockKeyring:
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

    def encode_input(self, raw: bytes, *, task: TaskBinding, organization_id: int) -> bytes:
        """Serialized input bytes as stored on the run of ``organization_id``."""
        if not self.encrypted:
            return raw
        return seal(raw, [self._keys[organization_id].public_key()],
                    task.input(organization_id))

    def open_input(self, blob: bytes, *, task: TaskBinding, organization_id: int) -> bytes:
        """The serialized input as the node at ``organization_id`` writes it to INPUT_FILE."""
        if self.encrypted:
            blob = open_sealed(blob, self._keys[organization_id], task.input(organization_id))
        return blob

    def decode_input(self, blob: bytes, *, task: TaskBinding, organization_id: int) -> Any:
        """What the algorithm's wrapper reads at ``organization_id``."""
        return serialization.loads(self.open_input(blob, task=task,
                                                   organization_id=organization_id))

    def encode_result(self, raw: bytes, *, task: TaskBinding, organization_id: int) -> bytes:
        """Serialized result bytes (from :func:`v6lib.wrappers.runner.encode_result`) as
        stored on the run: sealed for the task's initiating organization when the network
        is encrypted."""
        if not self.encrypted:
            return raw
        return seal(raw, [self._keys[task.initiator_id].public_key()],
                    task.result(organization_id))

    def decode_result(
        self, blob: bytes | None, *, task: TaskBinding, organization_id: int, reader_id: int
    ) -> Any:
        """The result as ``reader_id`` sees it (only the initiating organization can open
        an encrypted one)."""
        if blob is None:
            return None
        if self.encrypted:
            blob = open_sealed(blob, self._keys[reader_id], task.result(organization_id))
        return serialization.loads(blob)
