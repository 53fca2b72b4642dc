"""Node use cases; API keys are shown once and stored only as a KDF hash.

A key is found by ``api_key_lookup`` (a short SHA-256 digest, indexed) and proven by
``api_key_hash`` (argon2), so node login costs one indexed query and one KDF check.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import select

from v6lib.errors import AuthenticationError, NotFoundError, ValidationError
from v6lib.schemas.node import NodeIn, NodePatch
from v6lib.server.auth.passwords import KdfCost, hash_secret, verify_secret
from v6lib.server.db.models import Collaboration, Node, Organization
from v6lib.server.permissions.policy import require, require_own_organization, visible_filter
from v6lib.server.services.common import get_visible, paginate
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.organizations import flush_unique

__all__ = ["api_key_lookup", "authenticate_node", "create_node", "delete_node", "get_node",
           "list_nodes", "new_api_key", "reset_api_key", "set_api_key", "update_node"]


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def api_key_lookup(api_key: str) -> str:
    """Index digest of a key: enough to find the row, not enough to log in."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:32]


def set_api_key(node: Node, api_key: str, cost: KdfCost) -> None:
    node.api_key_lookup = api_key_lookup(api_key)
    node.api_key_hash = hash_secret(api_key, cost=cost)


def node_status(node: Node, ctx: ServiceContext) -> str:
    """``online`` while the node was seen recently; otherwise ``offline``."""
    if node.last_seen_at is None:
        return "offline"
    return "online" if ctx.now() - node.last_seen_at < ctx.settings.node_offline_after \
        else "offline"


def list_nodes(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
               organization_id: int | None = None, collaboration_id: int | None = None,
               name: str | None = None) -> tuple[Sequence[Node], int]:
    stmt = select(Node).where(visible_filter(ctx.me, "node"))
    if organization_id is not None:
        stmt = stmt.where(Node.organization_id == organization_id)
    if collaboration_id is not None:
        stmt = stmt.where(Node.collaboration_id == collaboration_id)
    if name is not None:
        stmt = stmt.where(Node.name.like(f"%{name}%"))
    return paginate(ctx.session, stmt.order_by(Node.id), page, per_page)


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
    api_key = new_api_key()
    node = Node(name=payload.name or f"{org.name} - {collab.name}", organization_id=org.id,
                collaboration_id=collab.id, status="offline")
    set_api_key(node, api_key, ctx.settings.kdf_cost)
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
    api_key = new_api_key()
    set_api_key(node, api_key, ctx.settings.kdf_cost)
    ctx.session.flush()
    return api_key


def authenticate_node(ctx: ServiceContext, api_key: str) -> Node:
    """The node owning ``api_key``; marks it seen. Raises ``AuthenticationError``."""
    candidates = ctx.session.scalars(
        select(Node).where(Node.api_key_lookup == api_key_lookup(api_key))).all()
    for node in candidates:
        if verify_secret(node.api_key_hash, api_key):
            node.last_seen_at = ctx.now()
            node.status = "online"
            return node
    raise AuthenticationError("invalid api key")
