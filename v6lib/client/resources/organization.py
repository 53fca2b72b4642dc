"""``client.organization``: the parties of a federation and their public keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib.client.resources.base import ResourceClient, drop_none

__all__ = ["OrganizationClient"]


class OrganizationClient(ResourceClient):
    """List, read, create and update organizations (the API has no organization delete)."""

    path = "/organization"
    filter_aliases = {"collaboration": "collaboration_id", "study": "study_id"}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page ``{"data", "links", "total", ...}``, or every item with ``all_pages``.

        ``fields=["id", "name"]`` keeps only those keys of each item.
        """
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One organization by id."""
        return self._get(id_)

    def create(self, name: str, address1: str | None = None, address2: str | None = None,
               zipcode: str | None = None, country: str | None = None,
               domain: str | None = None, public_key: str | None = None) -> dict[str, Any]:
        """Create an organization; ``public_key`` is the base64 PEM (see ``public_key_b64``)."""
        return self._create(drop_none({
            "name": name, "address1": address1, "address2": address2, "zipcode": zipcode,
            "country": country, "domain": domain, "public_key": public_key}))

    def update(self, id_: int, *, name: str | None = None, address1: str | None = None,
               address2: str | None = None, zipcode: str | None = None,
               country: str | None = None, domain: str | None = None,
               public_key: str | None = None) -> dict[str, Any]:
        """Change the given fields of an organization; others stay as they are."""
        return self._update(id_, drop_none({
            "name": name, "address1": address1, "address2": address2, "zipcode": zipcode,
            "country": country, "domain": domain, "public_key": public_key}))
