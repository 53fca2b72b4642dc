"""``client.user``: accounts of researchers and administrators."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from v6lib.client.resources.base import ResourceClient, check_id, drop_none, ids

__all__ = ["UserClientResource"]


class UserClientResource(ResourceClient):
    """Users, their roles and extra rules, the own password, and account recovery."""

    path = "/user"
    filter_aliases = {"organization": "organization_id", "role": "role_id"}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of users, or all of them with ``all_pages=True``."""
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One user by id."""
        return self._get(id_)

    def create(self, username: str, password: str, organization: int | None = None,
               roles: Iterable[int] = (), rules: Iterable[int] = (),
               email: str | None = None, firstname: str | None = None,
               lastname: str | None = None) -> dict[str, Any]:
        """Create a user; ``organization`` defaults to your own, roles/rules are ids."""
        return self._create(drop_none({
            "username": username, "password": password,
            "organization_id": None if organization is None else check_id(organization),
            "role_ids": ids(list(roles), "roles"), "rule_ids": ids(list(rules), "rules"),
            "email": email, "firstname": firstname, "lastname": lastname}))

    def update(self, id_: int, *, email: str | None = None, firstname: str | None = None,
               lastname: str | None = None, roles: Iterable[int] | None = None,
               rules: Iterable[int] | None = None) -> dict[str, Any]:
        """Change profile fields or replace the role/rule lists (passwords: see below)."""
        return self._update(id_, drop_none({
            "email": email, "firstname": firstname, "lastname": lastname,
            "role_ids": ids(roles, "roles"), "rule_ids": ids(rules, "rules")}))

    def delete(self, id_: int) -> None:
        """Delete a user."""
        self._delete(id_)

    def change_password(self, current_password: str, new_password: str) -> str:
        """Change your own password; returns the server's message."""
        body = self.transport.post("/password/change", json={
            "current_password": current_password, "new_password": new_password})
        return str((body or {}).get("msg", ""))

    def recover_password(self, *, username: str | None = None,
                         email: str | None = None) -> str:
        """Ask for a password reset token by mail (no login needed); the server's message.

        The answer is the same whether or not the account exists.
        """
        return self._unauthenticated("/recover/lost", drop_none(
            {"username": username, "email": email}))

    def reset_password(self, reset_token: str, password: str) -> str:
        """Set a new ``password`` with a mailed (or administrator's) reset token."""
        return self._unauthenticated("/recover/reset", {"reset_token": reset_token,
                                                        "password": password})

    def recover_two_factor(self, *, username: str | None = None,
                           email: str | None = None) -> str:
        """Ask for a token by mail that removes your lost second factor (no login needed)."""
        return self._unauthenticated("/recover/2fa/lost", drop_none(
            {"username": username, "email": email}))

    def reset_two_factor(self, reset_token: str, password: str) -> str:
        """Remove your second factor with the mailed token and your ``password``; you set
        it up again at the next login when the server requires it."""
        return self._unauthenticated("/recover/2fa/reset", {"reset_token": reset_token,
                                                            "password": password})

    def _unauthenticated(self, path: str, body: dict[str, Any]) -> str:
        answer = self.transport.post(path, json=body, authenticated=False)
        return str((answer or {}).get("msg", ""))
