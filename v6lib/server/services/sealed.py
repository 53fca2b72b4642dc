"""Refuse plaintext payloads in encrypted collaborations.

The server cannot read an envelope, but it can tell one from plaintext by its header.
Accepting plaintext where the collaboration promises end-to-end encryption would store
readable data on the server, so such inputs and results are rejected at the door.
"""

from __future__ import annotations

import base64
import binascii

from v6lib.crypto import is_envelope
from v6lib.errors import ValidationError

__all__ = ["require_sealed"]


def require_sealed(payload: str | None, *, field: str, organization_id: int) -> None:
    """Raise ``ValidationError`` unless ``payload`` (base64) is an encryption envelope."""
    if payload is None:
        return
    try:
        head = base64.b64decode(payload[:16], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(f"{field}: not valid base64 (organization {organization_id})",
                              details={"field": field}) from exc
    if not is_envelope(head):
        raise ValidationError(
            f"{field}: collaboration is encrypted, but the payload for organization "
            f"{organization_id} is not encrypted; seal it with the organization's public key "
            "(the client does this after setup_encryption)",
            details={"field": field, "organization_id": organization_id})
