"""Refuse plaintext payloads in encrypted collaborations.

The server cannot read an envelope, but it can check that a payload has an envelope's
complete shape (see :mod:`v6lib.crypto.shape`). Accepting plaintext where the
collaboration promises end-to-end encryption would store readable data on the server,
so such inputs and results are rejected at the door, on the JSON path (base64 values)
and on the raw result upload (checked piece by piece as it streams in).
"""

from __future__ import annotations

import base64
import binascii

from v6lib.crypto.shape import EnvelopeShape, envelope_shape_problem
from v6lib.errors import ValidationError

__all__ = ["SealedStream", "require_sealed"]


def _not_sealed(field: str, organization_id: int, problem: str) -> ValidationError:
    return ValidationError(
        f"{field}: collaboration is encrypted, but the payload for organization "
        f"{organization_id} is not a sealed envelope ({problem}); seal it with the "
        "organization's public key (the client and the node do this themselves)",
        details={"field": field, "organization_id": organization_id})


def require_sealed(payload: str | None, *, field: str, organization_id: int) -> None:
    """Raise ``ValidationError`` unless ``payload`` (base64) is a complete envelope."""
    if payload is None:
        return
    try:
        blob = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(f"{field}: not valid base64 (organization {organization_id})",
                              details={"field": field}) from exc
    problem = envelope_shape_problem(blob)
    if problem:
        raise _not_sealed(field, organization_id, problem)


class SealedStream:
    """The same rule for a body read in pieces: :meth:`feed` each, then :meth:`check`."""

    def __init__(self, *, field: str, organization_id: int) -> None:
        self.field, self.organization_id = field, organization_id
        self._shape = EnvelopeShape()

    def feed(self, piece: bytes) -> None:
        """Check the next piece; refuses as soon as the shape is broken."""
        self._shape.feed(piece)
        if self._shape.problem:
            raise _not_sealed(self.field, self.organization_id, self._shape.problem)

    def check(self) -> None:
        """Refuse a body that ended before the envelope did."""
        problem = self._shape.finish()
        if problem:
            raise _not_sealed(self.field, self.organization_id, problem)
