"""Who a bearer token stands for: the principal of a user, a node or an algorithm container.

Checked on every authenticated request: the signature and times (``TokenService``), that
the subject still exists, that the token is of its subject's current generation (a
password change, a node API key reset), and for containers that their run still runs.
Principals of users and nodes come from ``ServerState.principals`` while the permissions
epoch stands (``permissions.cache``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.interfaces import ORMOption

from v6lib.errors import AuthenticationError
from v6lib.schemas.run_status import RunStatus
from v6lib.server.db.models import Node, Run, User
from v6lib.server.permissions.cache import epoch_column
from v6lib.server.permissions.principal import (
    Principal,
    container_principal,
    load_user_principal,
    node_principal,
)
from v6lib.server.services import node_liveness
from v6lib.server.services.logins import check_token_generation
from v6lib.server.state import ServerState

__all__ = ["authenticate"]

M = TypeVar("M", User, Node)


def authenticate(state: ServerState, session: Session, token: str, *,
                 writer: bool = True) -> Principal:
    """The principal a valid access token stands for, or ``AuthenticationError``.

    ``writer`` says whether the request's own transaction may write; if not, a node's
    "last seen" time is recorded in a separate short transaction.
    """
    claims = state.tokens.verify(token, {"user", "node", "container"})
    kind, subject = claims["kind"], claims["subject_id"]
    if kind == "user":
        # NOTE: roles and rules are read only when the principal is not cached
        user, epoch = _with_epoch(session, User, subject, lazyload(User.roles),
                                  lazyload(User.rules))
        if user is None:
            raise AuthenticationError("the user of this token no longer exists")
        check_token_generation(user, claims)
        key = ("user", user.id, user.token_generation, epoch)
        return state.principals.get(key, lambda: load_user_principal(session, user))
    if kind == "node":
        return _node(state, session, subject, claims, writer)
    return _container(session, claims)


def _node(state: ServerState, session: Session, node_id: int, claims: dict[str, Any],
          writer: bool) -> Principal:
    node, epoch = _with_epoch(session, Node, node_id)
    if node is None:
        raise AuthenticationError("the node of this token no longer exists")
    check_token_generation(node, claims)
    now = state.clock()
    if node_liveness.sighting_due(node, now, state.settings):
        if writer:
            node_liveness.mark_seen(node, now)
        else:
            node_liveness.record_sighting(state.engine, node.id, now)
    key = ("node", node.id, node.token_generation, epoch)
    return state.principals.get(key, lambda: node_principal(session, node))


def _with_epoch(session: Session, model: type[M], subject: int,
                *options: ORMOption) -> tuple[M | None, str]:
    """The token's subject and the permissions epoch, read in one statement."""
    found = session.execute(select(model, epoch_column()).where(model.id == subject)
                            .options(*options)).one_or_none()
    return (None, "") if found is None else (found[0], found[1] or "")


def _container(session: Session, claims: dict[str, Any]) -> Principal:
    run = session.get(Run, claims.get("run_id"))
    if run is None or RunStatus(run.status).is_terminal:
        raise AuthenticationError("container token expired: its run has finished")
    node = session.get(Node, claims.get("node_id"))
    if node is None:
        raise AuthenticationError("the node of this container token no longer exists")
    # NOTE: a node API key reset also ends the tokens of the runs that node started
    check_token_generation(node, claims)
    return container_principal(session, claims)
