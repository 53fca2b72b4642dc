"""The binding of an envelope: which task, organization and purpose it was sealed for."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from v6lib.errors import EncryptionError

__all__ = ["Binding", "Purpose"]

Purpose = Literal["input", "result"]
_PURPOSES = {"input": 1, "result": 2}


@dataclass(frozen=True)
class Binding:
    """What an envelope is for: its task, the organization it concerns and input/result.

    Sealed into the envelope so a ciphertext cannot be replayed as another task's input
    or another organization's result.
    """

    task_uid: str
    organization_id: int
    purpose: Purpose

    def __post_init__(self) -> None:
        if not isinstance(self.task_uid, str) or not self.task_uid:
            raise EncryptionError(
                f"Binding.task_uid must be a non-empty string, got {self.task_uid!r}"
            )
        if len(self.task_uid.encode("utf-8")) > 0xFFFF:
            raise EncryptionError("Binding.task_uid is longer than 65535 bytes")
        if isinstance(self.organization_id, bool) or not isinstance(self.organization_id, int):
            raise EncryptionError(
                f"Binding.organization_id must be an int, got {self.organization_id!r}"
            )
        if not -(2**63) <= self.organization_id < 2**63:
            raise EncryptionError("Binding.organization_id does not fit in 64 bits")
        if self.purpose not in _PURPOSES:
            raise EncryptionError(
                f"Binding.purpose must be 'input' or 'result', got {self.purpose!r}"
            )

    def aad(self) -> bytes:
        """Canonical, unambiguous bytes: length-prefixed uid, fixed-width id and purpose."""
        uid = self.task_uid.encode("utf-8")
        return (
            b"v6lib-binding-1\x00"
            + struct.pack(">H", len(uid))
            + uid
            + struct.pack(">qB", self.organization_id, _PURPOSES[self.purpose])
        )
