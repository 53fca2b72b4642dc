"""Pydantic wire models: the single definition of every payload v6lib sends or receives.

Names are imported on first use (PEP 562), so code that needs one stdlib-only module of
this package (the algorithm container's :mod:`v6lib.schemas.task_call`,
:mod:`v6lib.schemas.run_status`) does not pay for pydantic and every resource model.
``from v6lib.schemas import TaskIn`` works as before.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from .collaboration import CollaborationIn as CollaborationIn
    from .collaboration import CollaborationOut as CollaborationOut
    from .collaboration import CollaborationPatch as CollaborationPatch
    from .collaboration import IdRef as IdRef
    from .common import ErrorBody as ErrorBody
    from .common import Links as Links
    from .common import Page as Page
    from .common import PageParams as PageParams
    from .event import EventOut as EventOut
    from .event import EventsOut as EventsOut
    from .event import EventType as EventType
    from .health import HealthOut as HealthOut
    from .health import VersionOut as VersionOut
    from .node import ApiKeyOut as ApiKeyOut
    from .node import NodeAuditHead as NodeAuditHead
    from .node import NodeCreated as NodeCreated
    from .node import NodeIn as NodeIn
    from .node import NodeOut as NodeOut
    from .node import NodePatch as NodePatch
    from .node import NodeStatus as NodeStatus
    from .organization import OrganizationIn as OrganizationIn
    from .organization import OrganizationOut as OrganizationOut
    from .organization import OrganizationPatch as OrganizationPatch
    from .permission import PermissionsOut as PermissionsOut
    from .permission import RuleGrant as RuleGrant
    from .role import RoleIn as RoleIn
    from .role import RoleOut as RoleOut
    from .role import RolePatch as RolePatch
    from .rule import Operation as Operation
    from .rule import Resource as Resource
    from .rule import RuleOut as RuleOut
    from .rule import Scope as Scope
    from .run import ResultOut as ResultOut
    from .run import RunClaimOut as RunClaimOut
    from .run import RunOut as RunOut
    from .run import RunPatch as RunPatch
    from .run import RunProgressIn as RunProgressIn
    from .run import RunResultOut as RunResultOut
    from .run_status import TERMINAL_STATUSES as TERMINAL_STATUSES
    from .run_status import RunStatus as RunStatus
    from .run_status import can_transition as can_transition
    from .study import StudyIn as StudyIn
    from .study import StudyOut as StudyOut
    from .study import StudyPatch as StudyPatch
    from .task import DatabaseRef as DatabaseRef
    from .task import TaskIn as TaskIn
    from .task import TaskOrganization as TaskOrganization
    from .task import TaskOut as TaskOut
    from .task import TaskStatus as TaskStatus
    from .task_input import TaskInput as TaskInput
    from .token import ContainerTokenIn as ContainerTokenIn
    from .token import ContainerTokenOut as ContainerTokenOut
    from .token import Message as Message
    from .token import MfaEnrolmentOut as MfaEnrolmentOut
    from .token import NodeLogin as NodeLogin
    from .token import NodeTokenOut as NodeTokenOut
    from .token import PasswordChange as PasswordChange
    from .token import RecoverLost as RecoverLost
    from .token import RecoverMfaReset as RecoverMfaReset
    from .token import RecoverReset as RecoverReset
    from .token import RefreshOut as RefreshOut
    from .token import UserLogin as UserLogin
    from .token import UserLoginOut as UserLoginOut
    from .token import UserTokenOut as UserTokenOut
    from .user import UserIn as UserIn
    from .user import UserOut as UserOut
    from .user import UserPatch as UserPatch

#: submodule -> the public names it defines.
_MODULES: dict[str, tuple[str, ...]] = {
    "collaboration": ("CollaborationIn", "CollaborationOut", "CollaborationPatch", "IdRef"),
    "common": ("ErrorBody", "Links", "Page", "PageParams"),
    "event": ("EventOut", "EventsOut", "EventType"),
    "health": ("HealthOut", "VersionOut"),
    "node": ("ApiKeyOut", "NodeAuditHead", "NodeCreated", "NodeIn", "NodeOut", "NodePatch",
             "NodeStatus"),
    "organization": ("OrganizationIn", "OrganizationOut", "OrganizationPatch"),
    "permission": ("PermissionsOut", "RuleGrant"),
    "role": ("RoleIn", "RoleOut", "RolePatch"),
    "rule": ("Operation", "Resource", "RuleOut", "Scope"),
    "run": ("ResultOut", "RunClaimOut", "RunOut", "RunPatch", "RunProgressIn",
            "RunResultOut"),
    "run_status": ("TERMINAL_STATUSES", "RunStatus", "can_transition"),
    "study": ("StudyIn", "StudyOut", "StudyPatch"),
    "task": ("DatabaseRef", "TaskIn", "TaskOrganization", "TaskOut", "TaskStatus"),
    "task_input": ("TaskInput",),
    "token": ("ContainerTokenIn", "ContainerTokenOut", "Message", "MfaEnrolmentOut",
              "NodeLogin", "NodeTokenOut", "PasswordChange", "RecoverLost", "RecoverMfaReset",
              "RecoverReset", "RefreshOut", "UserLogin", "UserLoginOut", "UserTokenOut"),
    "user": ("UserIn", "UserOut", "UserPatch"),
}
_OWNER = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "TERMINAL_STATUSES",
    "ApiKeyOut",
    "CollaborationIn",
    "CollaborationOut",
    "CollaborationPatch",
    "ContainerTokenIn",
    "ContainerTokenOut",
    "DatabaseRef",
    "ErrorBody",
    "EventOut",
    "EventType",
    "EventsOut",
    "HealthOut",
    "IdRef",
    "Links",
    "Message",
    "MfaEnrolmentOut",
    "NodeAuditHead",
    "NodeCreated",
    "NodeIn",
    "NodeLogin",
    "NodeOut",
    "NodePatch",
    "NodeStatus",
    "NodeTokenOut",
    "Operation",
    "OrganizationIn",
    "OrganizationOut",
    "OrganizationPatch",
    "Page",
    "PageParams",
    "PasswordChange",
    "PermissionsOut",
    "RecoverLost",
    "RecoverMfaReset",
    "RecoverReset",
    "RefreshOut",
    "Resource",
    "ResultOut",
    "RoleIn",
    "RoleOut",
    "RolePatch",
    "RuleGrant",
    "RuleOut",
    "RunClaimOut",
    "RunOut",
    "RunPatch",
    "RunProgressIn",
    "RunResultOut",
    "RunStatus",
    "Scope",
    "StudyIn",
    "StudyOut",
    "StudyPatch",
    "TaskIn",
    "TaskInput",
    "TaskOrganization",
    "TaskOut",
    "TaskStatus",
    "UserIn",
    "UserLogin",
    "UserLoginOut",
    "UserOut",
    "UserPatch",
    "UserTokenOut",
    "VersionOut",
    "can_transition",
]


def __getattr__(name: str) -> typing.Any:
    try:
        module = _OWNER[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
