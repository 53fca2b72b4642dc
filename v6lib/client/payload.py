"""Turn task inputs into what the server stores, and stored results back into values.

Plain collaborations carry the UTF-8 JSON of :mod:`v6lib.serialization`, base64-encoded.
Encrypted collaborations carry a :mod:`v6lib.crypto` envelope instead, sealed per
organization and bound to the task (:class:`~v6lib.crypto.TaskBinding`), so the server can
neither read an input nor move a sealed value to another task, image or organization.
Keys and encryption flags the server gives are checked against what this client saw
before (:class:`~v6lib.trust.TrustStore`): a swapped key or a collaboration switched to
plaintext is refused, never used silently.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from v6lib import serialization
from v6lib.byte_source import ByteSource
from v6lib.client.transport import Transport
from v6lib.crypto import (
    RSAPrivateKey,
    RSAPublicKey,
    TaskBinding,
    is_envelope,
    load_public_key_pem,
    open_sealed,
    open_stream,
    seal,
)
from v6lib.crypto.envelope import MAGIC
from v6lib.crypto.wire import preallocated
from v6lib.errors import DecryptionError, EncryptionError, SerializationError, ValidationError
from v6lib.schemas import TaskInput
from v6lib.trust import TrustStore

__all__ = ["PayloadCodec", "validate_input"]


def validate_input(input_: Any) -> dict[str, Any]:
    """Check a task input against :class:`TaskInput` and return the dict to serialize."""
    if not isinstance(input_, Mapping):
        raise ValidationError(
            "input_ must be a dict like {'method': 'central_average', 'kwargs': {...}}, "
            f"got {type(input_).__name__}")
    try:
        parsed = TaskInput.model_validate(dict(input_))
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'input_'}: {err['msg']}"
            for err in exc.errors())
        raise ValidationError(f"invalid task input: {problems}") from None
    body: dict[str, Any] = {"method": parsed.method, "args": parsed.args,
                            "kwargs": parsed.kwargs}
    if parsed.master:
        body["master"] = True
    return body


class PayloadCodec:
    """Encodes inputs and decodes results, encrypting where the collaboration says so.

    Holds the user's private key (``None`` until ``setup_encryption``) and caches what
    does not change: collaboration encryption flags and organization public keys, both
    checked against ``trust`` (what this user saw before, kept across sessions).
    """

    def __init__(self, transport: Transport, trust: TrustStore | None = None, *,
                 organization_lookup: Callable[[], int] | None = None) -> None:
        self.transport = transport
        self.trust = trust if trust is not None else TrustStore(None)
        self.private_key: RSAPrivateKey | None = None
        self.organization_id: int | None = None
        self._organization_lookup = organization_lookup
        self._encrypted: dict[int, bool] = {}
        self._public_keys: dict[int, RSAPublicKey] = {}

    # ------------------------------------------------------------------ lookups
    def is_encrypted(self, collaboration_id: int) -> bool:
        """Whether the collaboration seals inputs and results (asked once, then cached).

        Raises:
            EncryptionDowngradeError: it was encrypted when this user last saw it.
        """
        if collaboration_id not in self._encrypted:
            body = self.transport.get(f"/collaboration/{collaboration_id}")
            self._encrypted[collaboration_id] = self.trust.check_encrypted(
                collaboration_id, bool(body.get("encrypted")))
        return self._encrypted[collaboration_id]

    def public_key(self, organization_id: int) -> RSAPublicKey:
        """An organization's public key from the server, checked against the pinned one.

        Raises:
            EncryptionError: the organization has no key.
            KeyChangedError: the server offers another key than the one trusted here.
        """
        if organization_id not in self._public_keys:
            body = self.transport.get(f"/organization/{organization_id}")
            pem = body.get("public_key")
            if not pem:
                raise EncryptionError(
                    f"organization {organization_id} ({body.get('name', '?')}) has no public "
                    "key, so nothing can be encrypted for it; its administrator must upload "
                    "one (client.organization.update(id, public_key=public_key_b64(key)))")
            key = self.trust.check_key(organization_id, load_public_key_pem(pem))
            self._public_keys[organization_id] = key
        return self._public_keys[organization_id]

    def initiator_id(self) -> int:
        """The organization of the logged-in user: the initiator its tasks are bound to."""
        if self.organization_id is None and self._organization_lookup is not None:
            self.organization_id = self._organization_lookup()
        if self.organization_id is None:
            raise EncryptionError("log in (client.authenticate) before creating tasks in an "
                                  "encrypted collaboration")
        return self.organization_id

    # ------------------------------------------------------------------ inputs
    def encode_inputs(self, collaboration_id: int, organizations: Sequence[int],
                      input_: Mapping[str, Any], *, uid: str, image: str
                      ) -> list[dict[str, Any]]:
        """The ``organizations`` array of ``POST /task``: one (sealed) input per organization."""
        plaintext = serialization.dumps(validate_input(input_), root="input")
        encrypted = self.is_encrypted(collaboration_id)
        task = TaskBinding(uid, image, self.initiator_id()) if encrypted else None
        out = []
        for org_id in organizations:
            blob = plaintext
            if task is not None:
                recipients = [self.public_key(org_id)]
                if self.private_key is not None and self.organization_id != org_id:
                    # NOTE: sealed to the sender too, so the researcher can read back what
                    # was sent; a node only ever opens its own organization's slot.
                    recipients.append(self.private_key.public_key())
                blob = seal(plaintext, recipients, task.input(org_id))
            out.append({"id": org_id, "input": base64.b64encode(blob).decode("ascii")})
        return out

    # ------------------------------------------------------------------ results
    def decode(self, value: str | None, *, task: TaskBinding | None, organization_id: int,
               encrypted: bool, purpose: str = "result") -> Any:
        """A stored base64 value back into a Python value (``None`` stays ``None``)."""
        if value is None:
            return None
        try:
            blob = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError(f"the server sent a {purpose} that is not base64: {exc}") \
                from None
        if encrypted:
            if not is_envelope(blob):
                raise DecryptionError(
                    f"the {purpose} of organization {organization_id} is not encrypted although "
                    "the collaboration is; refusing to trust it")
            if self.private_key is None:
                raise EncryptionError(
                    "this collaboration is encrypted: call client.setup_encryption("
                    "'/path/to/private_key.pem') with your organization's private key first")
            blob = open_sealed(blob, self.private_key,
                               _bound(task).binding(organization_id, purpose))  # type: ignore[arg-type]
        return serialization.loads(blob)

    def decode_stream(self, src: ByteSource, size: int, *, task: TaskBinding | None,
                      organization_id: int,
                      encrypted: bool, purpose: str = "result") -> Any:
        """A raw value read from ``src`` (``size`` bytes at most) back into a Python value.

        Used for results fetched from ``GET /run/{id}/result``: an envelope is decrypted
        chunk by chunk from the stream into one buffer, so only the plaintext and the
        decoded value are ever held, never the ciphertext as a whole.
        """
        if not encrypted:
            data = src.read(size) if not hasattr(src, "read_all") else src.read_all()
            text = _text(data)
            del data  # parse with the text and the value in memory, not the bytes too
            return serialization.loads(text)
        head = src.read(len(MAGIC)) or b""
        if head != MAGIC:
            raise DecryptionError(
                f"the {purpose} of organization {organization_id} is not encrypted although "
                "the collaboration is; refusing to trust it")
        key = self._require_key()
        buffer = preallocated(size)
        buffer.seek(0)
        written = open_stream(_Prefixed(head, src), buffer, key,
                              _bound(task).binding(organization_id, purpose))  # type: ignore[arg-type]
        buffer.truncate(written)
        plaintext = buffer.getvalue()
        buffer.close()
        text = _text(plaintext)
        del plaintext
        return serialization.loads(text)

    def _require_key(self) -> RSAPrivateKey:
        if self.private_key is None:
            raise EncryptionError(
                "this collaboration is encrypted: call client.setup_encryption("
                "'/path/to/private_key.pem') with your organization's private key first")
        return self.private_key

    def task_context(self, task_id: int, task: Mapping[str, Any] | None = None
                     ) -> tuple[TaskBinding | None, bool]:
        """``(binding, encrypted)`` of a task: what decoding its runs' values needs.

        ``task``: the task's JSON when the caller already has it (no request then).
        """
        if task is None:
            task = self.transport.get(f"/task/{task_id}")
        encrypted = self.is_encrypted(int(task["collaboration_id"]))
        return (TaskBinding.of(task) if encrypted else None), encrypted


def _bound(task: TaskBinding | None) -> TaskBinding:
    if task is None:
        raise EncryptionError("an encrypted value needs its task's binding to be opened")
    return task


def _text(data: bytes) -> str:
    """UTF-8 text of ``data``, so the bytes can be freed before the JSON is parsed.

    Callers drop their bytes right after, so parsing holds the text and the value,
    not the bytes as well.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SerializationError(f"JSON input is not valid UTF-8: {exc}") from None


class _Prefixed:
    """``src`` with ``head`` (already read from it) put back in front."""

    def __init__(self, head: bytes, src: ByteSource) -> None:
        self.head, self.src = head, src

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.src.read(n)
        if 0 <= n <= len(self.head):
            piece, self.head = self.head[:n], self.head[n:]
            return piece
        piece, self.head = self.head, b""
        rest = self.src.read(-1 if n < 0 else n - len(piece))
        return piece + (rest or b"")
