"""``client.collaboration``: groups of organizations that analyse together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib.client.resources.base import ResourceClient, check_id, drop_none, ids

__all__ = ["CollaborationClient"]


class CollaborationClient(ResourceClient):
    """Collaborations and their member organizations."""

    path = "/collaboration"
    filter_aliases = {"organization": "organization_id"}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of collaborations, or all of them with ``all_pages=True``."""
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One collaboration: ``{id, name, encrypted, organization_ids}``."""
        return self._get(id_)

    def create(self, name: str, organizations: Iterable[int] = (),
               encrypted: bool = False) -> dict[str, Any]:
        """Create a collaboration of ``organizations`` (ids).

        With ``encrypted=True`` every task input and result is sealed end to end, so each
        member organization needs a public key and its users the private key.
        """
        return self._create({"name": name, "encrypted": bool(encrypted),
                             "organization_ids": ids(list(organizations), "organizations")})

    def update(self, id_: int, *, name: str | None = None, encrypted: bool | None = None,
               organizations: Iterable[int] | None = None) -> dict[str, Any]:
        """Rename, or (root) replace the member list; remove members.

        ``encrypted`` can change only while the collaboration has no task, and only root
        may switch it off. Adding organizations needs their consent unless you are root:
        use :meth:`add_organization`.
        """
        return self._update(id_, drop_none({
            "name": name, "encrypted": encrypted,
            "organization_ids": ids(organizations, "organizations")}))

    def delete(self, id_: int) -> None:
        """Delete a collaboration."""
        self._delete(id_)

    def add_organization(self, id_: int, organization: int) -> dict[str, Any] | None:
        """Invite ``organization`` (as a member's administrator) or accept an invitation
        (as an administrator of ``organization``); root adds at once.

        Returns the collaboration once the organization is a member, else
        ``{"msg": ...}`` saying whose consent is still missing.
        """
        return self.transport.post(  # type: ignore[no-any-return]
            f"{self.path}/{check_id(id_)}/organization", json={"id": check_id(organization)})

    def remove_organization(self, id_: int, organization: int) -> dict[str, Any] | None:
        """Remove one organization from the collaboration."""
        return self.transport.delete(  # type: ignore[no-any-return]
            f"{self.path}/{check_id(id_)}/organization", json={"id": check_id(organization)})
