"""``client.rule``: the fixed permission vocabulary (resource x scope x operation)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib.client.resources.base import ResourceClient

__all__ = ["RuleClient"]


class RuleClient(ResourceClient):
    """Rules are read-only: the server defines them."""

    path = "/rule"
    filter_aliases = {"role": "role_id", "user": "user_id"}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of rules (filters such as ``name="task"``, ``scope``, ``operation``)."""
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One rule: ``{id, name, scope, operation}``."""
        return self._get(id_)
