"""``client.study``: named subsets of a collaboration's organizations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib.client.resources.base import ResourceClient, check_id, drop_none, ids

__all__ = ["StudyClient"]


class StudyClient(ResourceClient):
    """Studies: a task sent to a study reaches only the study's organizations."""

    path = "/study"
    filter_aliases = {"collaboration": "collaboration_id", "organization": "organization_id"}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of studies, or all of them with ``all_pages=True``."""
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One study: ``{id, name, collaboration_id, organization_ids}``."""
        return self._get(id_)

    def create(self, name: str, collaboration: int,
               organizations: Iterable[int] = ()) -> dict[str, Any]:
        """Create a study inside ``collaboration`` with some of its organizations."""
        return self._create({"name": name, "collaboration_id": check_id(collaboration),
                             "organization_ids": ids(list(organizations), "organizations")})

    def update(self, id_: int, *, name: str | None = None,
               organizations: Iterable[int] | None = None) -> dict[str, Any]:
        """Rename a study or replace its organizations."""
        return self._update(id_, drop_none({
            "name": name, "organization_ids": ids(organizations, "organizations")}))

    def delete(self, id_: int) -> None:
        """Delete a study."""
        self._delete(id_)
