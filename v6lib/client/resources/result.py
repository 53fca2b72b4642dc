"""``client.result``: run results, decoded (and decrypted) into Python values."""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Iterable
from typing import Any

from v6lib.client.payload import PayloadCodec
from v6lib.client.resources.base import ResourceClient, check_id
from v6lib.client.result_stream import READ_BYTES, open_result_stream
from v6lib.crypto import TaskBinding
from v6lib.errors import V6Error

__all__ = ["ResultClient"]


class ResultClient(ResourceClient):
    """Results: ``{id, run_id, task_id, organization_id, status, result, log}``.

    ``result`` is returned decoded; one too big to be sent inline (``result`` null with a
    ``result_size``) is streamed from ``/run/{id}/result`` and decoded as it arrives.
    In ``list``/``get`` a value that cannot be decoded
    (for instance: no private key loaded) is left as ``None`` with the reason in
    ``decode_error``, so one bad entry does not hide the others; ``from_task`` raises.
    """

    path = "/result"
    filter_aliases = {"task": "task_id", "organization": "organization_id"}

    def __init__(self, transport: Any, codec: PayloadCodec) -> None:
        super().__init__(transport)
        self.codec = codec
        self._contexts: dict[int, tuple[TaskBinding | None, bool]] = {}

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of results (filter ``task``), decoded; ``all_pages`` gives a list."""
        body = self._list(filters, page, per_page, all_pages, None)
        items = body if all_pages else body["data"]
        decoded = [self._decoded(item) for item in items]
        if fields is not None:
            decoded = [{k: item.get(k) for k in fields} for item in decoded]
        return decoded if all_pages else {**body, "data": decoded}

    def get(self, id_: int) -> dict[str, Any]:
        """One result, decoded."""
        return self._decoded(self._get(id_))

    def from_task(self, task_id: int) -> builtins.list[Any]:  # .list is a method
        """The decoded results of a task's runs, in run order (``None`` for unfinished runs)."""
        items = list(self.transport.iter_pages(self.path, params={"task_id": check_id(task_id)}))
        items.sort(key=lambda item: item.get("run_id", item["id"]))
        return [self.decode(item) for item in items]

    def know_task(self, task: dict[str, Any]) -> None:
        """Remember what decoding needs of a task the caller already fetched."""
        task_id = int(task["id"])
        if task_id not in self._contexts:
            self._contexts[task_id] = self.codec.task_context(task_id, task)

    def decode(self, item: dict[str, Any]) -> Any:
        """The Python value of one result (or run) dict; raises when it cannot."""
        task_id = int(item["task_id"])
        if task_id not in self._contexts:
            self._contexts[task_id] = self.codec.task_context(task_id)
        task, encrypted = self._contexts[task_id]
        if item.get("result") is None and item.get("result_size"):
            # too big to travel inline: stream the raw bytes and decode them as they come
            run_id = int(item.get("run_id") or item["id"])
            with open_result_stream(self.transport, run_id) as body:
                return self.codec.decode_stream(body, body.size, task=task,
                                                organization_id=int(item["organization_id"]),
                                                encrypted=encrypted)
        return self.codec.decode(item.get("result"), task=task,
                                 organization_id=int(item["organization_id"]),
                                 encrypted=encrypted)

    def download(self, run_id: int, path: str | os.PathLike[str]) -> int:
        """Save a run's result bytes as stored (sealed, in an encrypted collaboration) to
        ``path`` without holding them in memory; returns the number of bytes written."""
        with open_result_stream(self.transport, check_id(run_id)) as body, \
                open(path, "wb") as out:
            shutil.copyfileobj(body, out, READ_BYTES)
            body.read()  # reach the end: length and digest are checked there
        return body.got

    def _decoded(self, item: dict[str, Any]) -> dict[str, Any]:
        out = dict(item)
        try:
            out["result"] = self.decode(item)
        except V6Error as exc:
            out["result"] = None
            out["decode_error"] = exc.message
        return out
