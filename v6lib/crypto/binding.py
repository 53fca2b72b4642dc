"""The binding of an envelope: which task, organization and purpose it was sealed for.

Why the binding covers more than the task's uid: a server (or anyone who can create
tasks) could otherwise delete a task, create another with the same uid but a different
image or initiating organization, and hand a captured input to a node, which would
open it for an algorithm the researcher never chose. Everything a replay could change
that decides what happens with a payload is therefore sealed into it: the task uid, the
image, the organization that asked (the recipient of the results), the organization the
payload concerns and whether it is an input or a result.

:class:`TaskBinding` is the one place that knows which task fields are covered; every
sealer and opener (researcher's client, node, node proxy, MockNetwork) builds its
:class:`Binding` from it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from v6lib.errors import EncryptionError

__all__ = ["Binding", "Purpose", "TaskBinding"]

Purpose = Literal["input", "result"]
_PURPOSES = {"input": 1, "result": 2}
_MAX_TEXT = 0xFFFF


def _text(name: str, value: object, *, empty_ok: bool = False) -> bytes:
    if not isinstance(value, str) or (not value and not empty_ok):
        raise EncryptionError(f"Binding.{name} must be a non-empty string, got {value!r}")
    raw = value.encode("utf-8")
    if len(raw) > _MAX_TEXT:
        raise EncryptionError(f"Binding.{name} is longer than {_MAX_TEXT} bytes")
    return struct.pack(">H", len(raw)) + raw


def _int64(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EncryptionError(f"Binding.{name} must be an int, got {value!r}")
    if not -(2**63) <= value < 2**63:
        raise EncryptionError(f"Binding.{name} does not fit in 64 bits")
    return value


@dataclass(frozen=True)
class Binding:
    """What an envelope is for; sealed into it (see the module docstring).

    Args:
        task_uid: the task's uid, chosen by the sender before the task exists.
        organization_id: the organization the payload concerns: the one that runs the
            input, or the one that produced the result.
        purpose: ``"input"`` or ``"result"``.
        image: the task's algorithm image, exactly as requested.
        initiator_id: the task's initiating organization (the results' recipient).
    """

    task_uid: str
    organization_id: int
    purpose: Purpose
    image: str
    initiator_id: int

    def __post_init__(self) -> None:
        _text("task_uid", self.task_uid)
        _text("image", self.image)
        _int64("organization_id", self.organization_id)
        _int64("initiator_id", self.initiator_id)
        if self.purpose not in _PURPOSES:
            raise EncryptionError(
                f"Binding.purpose must be 'input' or 'result', got {self.purpose!r}"
            )

    def aad(self) -> bytes:
        """Canonical, unambiguous bytes: length-prefixed texts, fixed-width integers."""
        return (
            b"v6lib-binding-2\x00"
            + _text("task_uid", self.task_uid)
            + _text("image", self.image)
            + struct.pack(">qqB", self.organization_id, self.initiator_id,
                          _PURPOSES[self.purpose])
        )


@dataclass(frozen=True)
class TaskBinding:
    """The fields of a task that its payloads are bound to.

    Build it from a task as the server returns it (:meth:`of`), or, before the task
    exists, from what the sender is about to create.
    """

    uid: str
    image: str
    initiator_id: int

    @classmethod
    def of(cls, task: Mapping[str, Any]) -> TaskBinding:
        """From a task's JSON (or any mapping with ``uid``, ``image``, ``init_org_id``)."""
        initiator = task.get("init_org_id")
        if initiator is None:
            raise EncryptionError(
                f"task {task.get('id', '?')} has no initiating organization; its payloads "
                "cannot be bound to one")
        return cls(uid=str(task.get("uid") or ""), image=str(task.get("image") or ""),
                   initiator_id=int(initiator))

    def binding(self, organization_id: int, purpose: Purpose) -> Binding:
        """The binding of this task's ``purpose`` payload concerning ``organization_id``."""
        return Binding(self.uid, organization_id, purpose, self.image, self.initiator_id)

    def input(self, organization_id: int) -> Binding:
        """The binding of the input that ``organization_id`` runs."""
        return self.binding(organization_id, "input")

    def result(self, organization_id: int) -> Binding:
        """The binding of the result ``organization_id`` produced."""
        return self.binding(organization_id, "result")
