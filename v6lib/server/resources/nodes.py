"""``/node`` resources; creating a node or resetting its key answers the key once."""

from __future__ import annotations

from typing import Any

import falcon

from v6lib.schemas._base import DbId
from v6lib.schemas.node import ApiKeyOut, NodeAuditHead, NodeCreated, NodeIn, NodeOut, NodePatch
from v6lib.schemas.token import Message
from v6lib.server.db.models import Node
from v6lib.server.resources._base import ListQuery, Op, Resource, parse_body, reply
from v6lib.server.resources._crud import Deleting, Editing, Listing, Reading
from v6lib.server.services import nodes as svc
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.node_liveness import node_status

__all__ = ["NodeApiKey", "NodeAudit", "NodeCollection", "NodeItem", "node_out"]


def node_out(ctx: ServiceContext, node: Node) -> NodeOut:
    return NodeOut(id=node.id, name=node.name, organization_id=node.organization_id,
                   collaboration_id=node.collaboration_id,
                   status=node_status(node, ctx.now(), ctx.settings),
                   last_seen_at=node.last_seen_at, audit_count=node.audit_count,
                   audit_head=node.audit_head, audit_published_at=node.audit_published_at)


class NodeQuery(ListQuery):
    organization_id: DbId | None = None
    collaboration_id: DbId | None = None
    name: str | None = None


class _NodeReply:
    """A node's reply carries its live status, which needs the request's context."""

    def out(self, ctx: ServiceContext, row: Any, method: str) -> NodeOut:
        return node_out(ctx, row)


class NodeCollection(_NodeReply, Listing):
    api = {
        "get": Op("List nodes", NodeOut, query=NodeQuery, paged=True),
        "post": Op("Register a node; the answer holds its API key, shown only this once",
                   NodeCreated, body=NodeIn, status=201, errors=(400, 403, 409)),
    }
    list_rows = staticmethod(svc.list_nodes)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        ctx = self.ctx(req)
        node, api_key = svc.create_node(ctx, parse_body(req, NodeIn))
        reply(resp, NodeCreated(**node_out(ctx, node).model_dump(), api_key=api_key), 201)


class NodeItem(_NodeReply, Reading, Editing, Deleting):
    api = {
        "get": Op("One node", NodeOut, errors=(404,)),
        "patch": Op("Rename a node", NodeOut, body=NodePatch, errors=(400, 403, 404)),
        "delete": Op("Delete a node", Message, errors=(403, 404)),
    }
    noun = "node"
    get_row = staticmethod(svc.get_node)
    update_row = staticmethod(svc.update_node)
    delete_row = staticmethod(svc.delete_node)


class NodeApiKey(Resource):
    api = {"post": Op("Replace the node's API key; the new key is shown only this once",
                      ApiKeyOut, errors=(403, 404))}

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        reply(resp, ApiKeyOut(api_key=svc.reset_api_key(self.ctx(req), id)))


class NodeAudit(Resource):
    api = {"put": Op("The node publishes the head of its audit trail (never backwards)",
                     NodeOut, body=NodeAuditHead, errors=(400, 403, 404, 409))}

    def on_put(self, req: falcon.Request, resp: falcon.Response, id: int) -> None:
        ctx = self.ctx(req)
        node = svc.publish_audit_head(ctx, id, parse_body(req, NodeAuditHead))
        reply(resp, node_out(ctx, node))
