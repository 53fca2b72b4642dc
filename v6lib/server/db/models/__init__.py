"""All server tables; importing this package registers every model on ``Base.metadata``."""

from __future__ import annotations

from .collaboration import Collaboration as Collaboration
from .collaboration import collaboration_organization as collaboration_organization
from .event import Event as Event
from .login_throttle import LoginThrottle as LoginThrottle
from .membership_consent import MembershipConsent as MembershipConsent
from .meta import ServerMeta as ServerMeta
from .node import Node as Node
from .organization import Organization as Organization
from .result_upload import ResultChunk as ResultChunk
from .result_upload import ResultUpload as ResultUpload
from .role import Role as Role
from .role import role_rule as role_rule
from .role import user_role as user_role
from .role import user_rule as user_rule
from .rule import Rule as Rule
from .run import Run as Run
from .study import Study as Study
from .study import study_organization as study_organization
from .task import Task as Task
from .user import User as User

__all__ = [
    "Collaboration",
    "Event",
    "LoginThrottle",
    "MembershipConsent",
    "Node",
    "Organization",
    "ResultChunk",
    "ResultUpload",
    "Role",
    "Rule",
    "Run",
    "ServerMeta",
    "Study",
    "Task",
    "User",
    "collaboration_organization",
    "role_rule",
    "study_organization",
    "user_role",
    "user_rule",
]
