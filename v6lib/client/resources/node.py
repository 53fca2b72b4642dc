"""``client.node``: register nodes and hand their API keys to the data owners."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib.client.resources.base import ResourceClient, check_id, drop_none

__all__ = ["NodeClient"]


class NodeClient(ResourceClient):
    """Nodes: one per organization per collaboration."""

    path = "/node"
    filter_aliases = {"collaboration": "collaboration_id", "organization": "organization_id"}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of nodes (``status`` is ``online``/``offline``), or all of them."""
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One node by id."""
        return self._get(id_)

    def create(self, collaboration: int, organization: int | None = None,
               name: str | None = None, *, details: bool = False) -> Any:
        """Register a node and return its API key (shown only this once).

        ``organization`` defaults to your own. With ``details=True`` the whole answer
        (id, name, ..., ``api_key``) is returned instead of the key alone.
        """
        body = self._create(drop_none({
            "collaboration_id": check_id(collaboration),
            "organization_id": None if organization is None else check_id(organization),
            "name": name}))
        return body if details else body["api_key"]

    def update(self, id_: int, *, name: str | None = None) -> dict[str, Any]:
        """Rename a node."""
        return self._update(id_, drop_none({"name": name}))

    def delete(self, id_: int) -> None:
        """Delete a node; its API key stops working."""
        self._delete(id_)

    def reset_api_key(self, id_: int) -> str:
        """Issue a new API key for a node (the old one stops working); returns the key."""
        body = self.transport.post(f"{self.path}/{check_id(id_)}/api_key")
        return str(body["api_key"])
