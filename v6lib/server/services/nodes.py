"""Node use cases; API keys are shown once and stored only as a KDF hash.

A key ``<selector>.<secret>`` (``auth.api_keys``) is found by its random selector
(stored in clear, indexed) and proven by ``api_key_hash``, the argon2 hash of the
secret, so node login costs one indexed query and one KDF check, and nothing stored
lets anyone check a guessed secret faster than argon2.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from v6lib.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from v6lib.schemas.node import NodeAuditHead, NodeIn, NodePatch
from v6lib.server.auth.api_keys import ApiKey, new_api_key, parse_api_key
from v6lib.server.auth.passwords import KdfCost, dummy_verify, hash_secret, verify_secret
from v6lib.server.db.models import Collaboration, Node, Organization
from v6lib.server.permissions.policy import require, require_own_organization, visible_filter
from v6lib.server.services import node_liveness
from v6lib.server.services.common import get_visible, paginate
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.organizations import flush_unique
from v6lib.server.services.sorting import order_by

__all__ = ["BAD_API_KEY", "authenticate_node", "check_key", "count_old_format_keys",
           "create_node", "delete_node", "find_by_key", "get_node", "issue_api_key",
           "list_nodes", "reset_api_key", "set_api_key", "update_node"]

#: The one answer to every failed node login, whatever was wrong with the key.
BAD_API_KEY = ("invalid api key (keys have the form <selector>.<secret>; a key issued "
               "before that format must be replaced: ask an administrator to reset it)")


def set_api_key(node: Node, api_key: str, cost: KdfCost) -> None:
    """Store ``api_key`` (``selector.secret``) on ``node``: the selector, a hash of the secret.

    Also bumps the node's token generation, so tokens issued under the previous key
    (access and refresh) stop working at once.

    Raises:
        ValidationError: ``api_key`` is not of the ``selector.secret`` form.
    """
    key = parse_api_key(api_key)
    if key is None:
        raise ValidationError("api_key: a node API key has the form <selector>.<secret> "
                              "(16 and at least 32 URL-safe base64 characters)",
                              details={"field": "api_key"})
    node.api_key_selector = key.selector
    node.api_key_hash = hash_secret(key.secret, cost=cost)
    node.token_generation = (node.token_generation or 0) + 1


def issue_api_key(node: Node, cost: KdfCost) -> str:
    """Give ``node`` a fresh key and return its text (the only time it exists)."""
    api_key = str(new_api_key())
    set_api_key(node, api_key, cost)
    return api_key


def count_old_format_keys(session: Session) -> int:
    """Nodes whose key predates the ``selector.secret`` format: they cannot log in."""
    return int(session.scalar(select(func.count()).select_from(Node).where(
        Node.api_key_selector.is_(None))) or 0)


def list_nodes(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
               sort: str | None = None,
               organization_id: int | None = None, collaboration_id: int | None = None,
               name: str | None = None) -> tuple[Sequence[Node], int]:
    stmt = select(Node).where(visible_filter(ctx.me, "node"))
    if organization_id is not None:
        stmt = stmt.where(Node.organization_id == organization_id)
    if collaboration_id is not None:
        stmt = stmt.where(Node.collaboration_id == collaboration_id)
    if name is not None:
        stmt = stmt.where(Node.name.like(f"%{name}%"))
    return paginate(ctx.session, stmt.order_by(*order_by(Node, "node", sort)), page,
                    per_page)


def get_node(ctx: ServiceContext, node_id: int) -> Node:
    return get_visible(ctx.session, Node, node_id, ctx.me, "node")


def create_node(ctx: ServiceContext, payload: NodeIn) -> tuple[Node, str]:
    """Register a node; returns it with its plain API key (the only time it exists)."""
    org_id = payload.organization_id or ctx.me.organization_id
    require(ctx.me, "create", "node", organization_ids=[org_id],
            collaboration_id=payload.collaboration_id)
    require_own_organization(ctx.me, "create", "node", org_id,
                             "create its nodes (a node speaks for its organization)")
    collab = ctx.session.get(Collaboration, payload.collaboration_id)
    if collab is None:
        raise NotFoundError(f"collaboration_id: no collaboration {payload.collaboration_id}",
                              details={"field": "collaboration_id"})
    org = ctx.session.get(Organization, org_id)
    if org is None or org.id not in collab.organization_ids:
        raise ValidationError(
            f"organization_id: organization {org_id} is not a member of collaboration "
            f"{collab.id}", details={"field": "organization_id"})
    node = Node(name=payload.name or f"{org.name} - {collab.name}", organization_id=org.id,
                collaboration_id=collab.id, status="offline")
    api_key = issue_api_key(node, ctx.settings.kdf_cost)
    ctx.session.add(node)
    flush_unique(ctx, f"a node for organization {org.id} in collaboration {collab.id}")
    return node, api_key


def update_node(ctx: ServiceContext, node_id: int, payload: NodePatch) -> Node:
    node = get_node(ctx, node_id)
    require(ctx.me, "edit", "node", organization_ids=[node.organization_id],
            collaboration_id=node.collaboration_id)
    if payload.name is not None:
        node.name = payload.name
    ctx.session.flush()
    return node


def publish_audit_head(ctx: ServiceContext, node_id: int, payload: NodeAuditHead) -> Node:
    """Store the head of the node's audit trail; only the node itself may, and never
    backwards: a shorter trail, or another entry at the same count, is refused (409) so
    the stored head keeps showing what the trail held."""
    me = ctx.me
    if not me.is_node or me.node_id != node_id:
        raise PermissionDenied("only the node itself may publish its audit trail's head")
    node = get_node(ctx, node_id)
    count, head = node.audit_count or 0, node.audit_head
    if payload.count < count or (payload.count == count and head and payload.head != head):
        raise ConflictError(
            f"node {node_id}: the audit trail's head was published at entry {count}; "
            f"entry {payload.count} with head {payload.head[:12]}... does not continue it",
            details={"audit_count": count, "audit_head": head})
    node.audit_count, node.audit_head = payload.count, payload.head
    node.audit_published_at = ctx.now()
    ctx.session.flush()
    return node


def delete_node(ctx: ServiceContext, node_id: int) -> None:
    node = get_node(ctx, node_id)
    require(ctx.me, "delete", "node", organization_ids=[node.organization_id],
            collaboration_id=node.collaboration_id)
    ctx.session.delete(node)
    ctx.session.flush()


def reset_api_key(ctx: ServiceContext, node_id: int) -> str:
    node = get_node(ctx, node_id)
    require(ctx.me, "edit", "node", organization_ids=[node.organization_id],
            collaboration_id=node.collaboration_id)
    require_own_organization(ctx.me, "edit", "node", node.organization_id,
                             "reset its nodes' API keys")
    api_key = issue_api_key(node, ctx.settings.kdf_cost)
    ctx.session.flush()
    return api_key


def find_by_key(session: Session, api_key: str) -> tuple[ApiKey | None, Node | None]:
    """The parsed key and the node its selector names (either may be None). No check."""
    key = parse_api_key(api_key)
    if key is None:
        return None, None
    return key, session.scalars(select(Node).where(Node.api_key_selector == key.selector)).first()


def check_key(api_key: str, key: ApiKey | None, node: Node | None) -> Node:
    """``node`` when ``key`` proves it, else ``AuthenticationError(BAD_API_KEY)``.

    Every failure (malformed key, unknown selector, wrong secret) costs one KDF check
    and gets the same answer, so neither timing nor message tells them apart.
    """
    if key is None or node is None:
        dummy_verify(api_key)
        raise AuthenticationError(BAD_API_KEY)
    if not verify_secret(node.api_key_hash, key.secret):
        raise AuthenticationError(BAD_API_KEY)
    return node


def authenticate_node(ctx: ServiceContext, api_key: str) -> Node:
    """The node owning ``api_key``; marks it seen. Raises ``AuthenticationError``.

    Not throttled: for in-process callers; HTTP logins go through ``logins.login_node``.
    """
    key, node = find_by_key(ctx.session, api_key)
    node = check_key(api_key, key, node)
    node_liveness.mark_seen(node, ctx.now())
    return node
