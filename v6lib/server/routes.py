"""The whole route table of the API, on one screen. Paths are relative to ``api_path``."""

from __future__ import annotations

from typing import Any

from v6lib.server.compat import compat_routes
from v6lib.server.resources import (
    capabilities,
    collaborations,
    events,
    health,
    nodes,
    organizations,
    results,
    roles,
    runs,
    studies,
    tasks,
    tokens,
    users,
)
from v6lib.server.resources._base import Resource

# NOTE: path ids outside 1..2**31-1 do not match a route, so they answer 404.
ID = "{id:int(min=1,max=2147483647)}"

__all__ = ["ID", "build_routes"]


def build_routes(*, hub: Any, long_polls: Any, version: str) -> list[tuple[str, Resource]]:
    return [
        ("/health", health.Health()),
        ("/version", health.Version(version)),
        ("/token/user", tokens.UserToken()),
        ("/token/node", tokens.NodeToken()),
        ("/token/container", tokens.ContainerToken()),
        ("/token/refresh", tokens.RefreshToken()),
        ("/password/change", tokens.PasswordChangeResource()),
        ("/recover/lost", tokens.RecoverLostResource()),
        ("/recover/reset", tokens.RecoverResetResource()),
        ("/recover/2fa/lost", tokens.RecoverMfaLostResource()),
        ("/recover/2fa/reset", tokens.RecoverMfaResetResource()),
        ("/organization", organizations.OrganizationCollection()),
        (f"/organization/{ID}", organizations.OrganizationItem()),
        ("/collaboration", collaborations.CollaborationCollection()),
        (f"/collaboration/{ID}", collaborations.CollaborationItem()),
        (f"/collaboration/{ID}/organization", collaborations.CollaborationOrganizations()),
        ("/study", studies.StudyCollection()),
        (f"/study/{ID}", studies.StudyItem()),
        ("/node", nodes.NodeCollection()),
        (f"/node/{ID}", nodes.NodeItem()),
        (f"/node/{ID}/api_key", nodes.NodeApiKey()),
        (f"/node/{ID}/audit", nodes.NodeAudit()),
        ("/user", users.UserCollection()),
        (f"/user/{ID}", users.UserItem()),
        (f"/user/{ID}/mfa/reset", users.UserMfaReset()),
        ("/permissions", capabilities.Permissions()),
        ("/role", roles.RoleCollection()),
        (f"/role/{ID}", roles.RoleItem()),
        ("/rule", roles.RuleCollection()),
        (f"/rule/{ID}", roles.RuleItem()),
        ("/task", tasks.TaskCollection()),
        (f"/task/{ID}", tasks.TaskItem()),
        (f"/task/{ID}/kill", tasks.TaskKill()),
        (f"/task/{ID}/wait", tasks.TaskWait(hub, long_polls)),
        ("/run", runs.RunCollection()),
        (f"/run/{ID}", runs.RunItem()),
        (f"/run/{ID}/result", results.RunResult()),
        (f"/run/{ID}/claim", runs.RunClaimResource()),
        (f"/run/{ID}/progress", runs.RunProgressResource()),
        ("/result", runs.ResultCollection()),
        (f"/result/{ID}", runs.ResultItem()),
        ("/event", events.EventCollection(hub, long_polls)),
        *compat_routes(ID),
    ]
