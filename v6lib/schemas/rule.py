"""Rule payloads and the vocabulary of permissions: resources, scopes and operations."""

from __future__ import annotations

from enum import StrEnum

from ._base import OutModel

__all__ = ["Operation", "Resource", "RuleOut", "Scope"]


class Resource(StrEnum):
    USER = "user"
    ORGANIZATION = "organization"
    COLLABORATION = "collaboration"
    ROLE = "role"
    NODE = "node"
    TASK = "task"
    RUN = "run"
    STUDY = "study"
    EVENT = "event"
    RULE = "rule"


class Scope(StrEnum):
    """How far a rule reaches, from the narrowest to the widest."""

    OWN = "own"
    ORGANIZATION = "organization"
    COLLABORATION = "collaboration"
    GLOBAL = "global"


class Operation(StrEnum):
    VIEW = "view"
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"
    SEND = "send"
    RECEIVE = "receive"


class RuleOut(OutModel):
    id: int
    name: Resource
    scope: Scope
    operation: Operation
