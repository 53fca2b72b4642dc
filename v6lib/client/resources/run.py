"""``client.run``: the per-organization executions of a task."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from v6lib.client.resources.base import ResourceClient, check_id

__all__ = ["RunClient"]


class RunClient(ResourceClient):
    """Runs as the server stores them (input and result still encoded)."""

    path = "/run"
    filter_aliases = {"task": "task_id", "organization": "organization_id", "node": "node_id"}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of runs (filters: task, organization, node, status)."""
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One run: status, timestamps, log and the encoded input/result."""
        return self._get(id_)

    def from_task(self, task_id: int) -> builtins.list[dict[str, Any]]:  # .list is a method
        """Every run of a task, in run order."""
        runs = list(self.transport.iter_pages(self.path, params={"task_id": check_id(task_id)}))
        return sorted(runs, key=lambda run: run["id"])
