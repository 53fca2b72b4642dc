"""``client.role``: named bundles of rules that users receive."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib.client.resources.base import ResourceClient, check_id, drop_none, ids

__all__ = ["RoleClient"]


class RoleClient(ResourceClient):
    """Roles, global (``organization_id`` null) or owned by one organization."""

    path = "/role"
    filter_aliases = {"organization": "organization_id", "user": "user_id", "rule": "rule_id"}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of roles, or all of them with ``all_pages=True``."""
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One role by id."""
        return self._get(id_)

    def create(self, name: str, rules: Iterable[int] = (), description: str | None = None,
               organization: int | None = None) -> dict[str, Any]:
        """Create a role from rule ids; ``organization`` defaults to your own."""
        return self._create(drop_none({
            "name": name, "description": description,
            "organization_id": None if organization is None else check_id(organization),
            "rule_ids": ids(list(rules), "rules")}))

    def update(self, id_: int, *, name: str | None = None, description: str | None = None,
               rules: Iterable[int] | None = None) -> dict[str, Any]:
        """Rename a role, change its description or replace its rules."""
        return self._update(id_, drop_none({
            "name": name, "description": description, "rule_ids": ids(rules, "rules")}))

    def delete(self, id_: int) -> None:
        """Delete a role."""
        self._delete(id_)
