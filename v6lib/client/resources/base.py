"""What every resource sub-client shares: the transport, list pagination and filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from v6lib.client.transport import Transport
from v6lib.errors import ValidationError

__all__ = ["ResourceClient", "check_id", "drop_none", "ids"]

MAX_PER_PAGE = 1000


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """A request body without the keys the caller left out (None means "not given")."""
    return {key: value for key, value in values.items() if value is not None}


def ids(values: Iterable[Any] | None, what: str) -> list[int] | None:
    """Turn ``[1, 2]`` or ``[{"id": 1}, ...]`` into a list of ids, naming bad entries."""
    if values is None:
        return None
    if isinstance(values, int | str | Mapping):
        values = [values]
    out: list[int] = []
    for value in values:
        raw = value.get("id") if isinstance(value, Mapping) else value
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValidationError(f"{what}: expected integer ids, got {value!r}")
        out.append(raw)
    return out


class ResourceClient:
    """Base of the sub-clients: ``client.organization``, ``client.task`` and the rest.

    Subclasses set ``path`` and may map friendly filter names (``task=3``) onto the
    server's query parameters (``task_id=3``) in ``filter_aliases``.
    """

    path: str = ""
    filter_aliases: Mapping[str, str] = {}

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _query(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        query: dict[str, Any] = {}
        for key, value in filters.items():
            if value is None:
                continue
            name = self.filter_aliases.get(key, key)
            if isinstance(value, bool):
                value = "true" if value else "false"
            query[name] = value
        return query

    def _list(
        self,
        filters: Mapping[str, Any],
        page: int | None,
        per_page: int | None,
        all_pages: bool,
        fields: Iterable[str] | None,
    ) -> Any:
        """One page as the server's envelope, or every item as a list (``all_pages``)."""
        query = self._query(filters)
        if all_pages:
            if page is not None:
                raise ValidationError("give either page or all_pages=True, not both")
            items = list(self.transport.iter_pages(
                self.path, params=query, per_page=per_page or MAX_PER_PAGE))
            return _project(items, fields)
        body = self.transport.get(self.path, params={**query, "page": page,
                                                     "per_page": per_page})
        if fields is not None and isinstance(body, dict) and "data" in body:
            body = {**body, "data": _project(body["data"], fields)}
        return body

    def _get(self, id_: int) -> dict[str, Any]:
        return self.transport.get(f"{self.path}/{check_id(id_)}")  # type: ignore[no-any-return]

    def _create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.transport.post(self.path, json=dict(body))  # type: ignore[no-any-return]

    def _update(self, id_: int, body: Mapping[str, Any]) -> dict[str, Any]:
        if not body:
            raise ValidationError(f"nothing to update on {self.path.strip('/')} {id_}: "
                                  "pass at least one field")
        return self.transport.patch(  # type: ignore[no-any-return]
            f"{self.path}/{check_id(id_)}", json=dict(body))

    def _delete(self, id_: int) -> Any:
        return self.transport.delete(f"{self.path}/{check_id(id_)}")


def check_id(id_: Any) -> int:
    if isinstance(id_, bool) or not isinstance(id_, int):
        raise ValidationError(f"ids are integers, got {id_!r}")
    return id_


def _project(items: list[Any], fields: Iterable[str] | None) -> list[Any]:
    """Keep only ``fields`` of each item, as vantage6's ``list(fields=[...])`` does."""
    if fields is None:
        return items
    keep = list(fields)
    return [{k: item.get(k) for k in keep} if isinstance(item, dict) else item
            for item in items]
