"""The UserClient's sub-clients, one small class per API resource."""

from __future__ import annotations

from .base import ResourceClient as ResourceClient
from .collaboration import CollaborationClient as CollaborationClient
from .node import NodeClient as NodeClient
from .organization import OrganizationClient as OrganizationClient
from .result import ResultClient as ResultClient
from .role import RoleClient as RoleClient
from .rule import RuleClient as RuleClient
from .run import RunClient as RunClient
from .study import StudyClient as StudyClient
from .task import TaskClient as TaskClient
from .user import UserClientResource as UserClientResource

__all__ = [
    "CollaborationClient",
    "NodeClient",
    "OrganizationClient",
    "ResourceClient",
    "ResultClient",
    "RoleClient",
    "RuleClient",
    "RunClient",
    "StudyClient",
    "TaskClient",
    "UserClientResource",
]
