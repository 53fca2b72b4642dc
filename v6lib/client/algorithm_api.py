"""What an algorithm needs from the server (``AlgorithmApi``), and its HTTP implementation.

A central function reaches the server only through its node's proxy, with the container
token as bearer. :class:`HttpAlgorithmApi` speaks that HTTP; the MockNetwork provides an
in-process implementation of the same Protocol, and :class:`AlgorithmClient` works on
either without knowing which.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from v6lib import serialization
from v6lib.client.refusals import REFUSALS, refusal_delay
from v6lib.errors import AlgorithmError, NotFoundError, SerializationError
from v6lib.rules.visibility import hidden_task_message
from v6lib.schemas.run_status import TERMINAL_STATUSES

if TYPE_CHECKING:
    from v6lib.client.transport import Transport
    from v6lib.wrappers.metadata import RunMetadata

__all__ = ["MAX_LONG_POLL", "AlgorithmApi", "HttpAlgorithmApi", "decode_payload",
           "encode_payload"]

MAX_LONG_POLL = 60  # seconds the server holds GET /task/{id}/wait at most

_TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)


@runtime_checkable
class AlgorithmApi(Protocol):
    """The server operations a central function may use (scoped by its container token)."""

    def create_task(
        self,
        *,
        name: str,
        description: str,
        organizations: list[int],
        input_: dict[str, Any],
        databases: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        """Create a subtask with one run per organization; returns the task."""
        ...

    def wait_for_task(self, task_id: int, timeout: float | None) -> dict[str, Any]:
        """Block (without busy-looping) until every run of the task is terminal or
        ``timeout`` seconds passed (None: no limit); returns the task as last seen.

        Raises:
            NotFoundError: no such task, or one of another job (invisible to a run).
        """
        ...

    def get_runs(self, task_id: int) -> list[dict[str, Any]]:
        """The task's runs: each with ``organization_id``, ``status``, ``result`` (the
        decoded Python value, or None) and ``log``.

        Raises:
            NotFoundError: no such task, or one of another job (invisible to a run).
        """
        ...

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One run, shaped as :meth:`get_runs` gives them.

        Raises:
            NotFoundError: no such run, or one of another job (invisible to a run).
        """
        ...

    def get_organizations(self) -> list[dict[str, Any]]:
        """The organizations of the run's collaboration."""
        ...

    def get_organization(self, organization_id: int) -> dict[str, Any]:
        ...

    def get_collaboration(self) -> dict[str, Any]:
        """The run's collaboration."""
        ...

    def get_studies(self) -> list[dict[str, Any]]:
        """The studies of the run's collaboration."""
        ...

    def get_study(self, study_id: int) -> dict[str, Any]:
        """One study of the run's collaboration.

        Raises:
            NotFoundError: no such study in the collaboration.
        """
        ...


def encode_payload(value: Any, *, root: str = "input") -> str:
    """A Python value as the base64 text of its serialized JSON (the wire form)."""
    return base64.b64encode(serialization.dumps(value, root=root)).decode("ascii")


def decode_payload(text: str | None, *, what: str = "result") -> Any:
    """The inverse of :func:`encode_payload`; None and "" stay None."""
    if text is None or text == "":
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SerializationError(f"{what} is not valid base64: {exc}") from None
    return serialization.loads(raw)


class HttpAlgorithmApi:
    """:class:`AlgorithmApi` over HTTP against the node proxy (same paths as the server).

    Args:
        transport: a Transport whose ``base_url`` is ``http://HOST:PORT/API_PATH`` and whose
            ``token`` is the container token.
        metadata: the run's metadata (collaboration id and image go into subtasks).
    """

    def __init__(self, transport: Transport, metadata: RunMetadata) -> None:
        self.transport = transport
        self.metadata = metadata

    def create_task(
        self,
        *,
        name: str,
        description: str,
        organizations: list[int],
        input_: dict[str, Any],
        databases: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        # NOTE: the same plain input goes to every organization; the proxy encrypts it per
        # organization when the collaboration is encrypted.
        encoded = encode_payload(input_)
        body: dict[str, Any] = {
            "name": name,
            "description": description,
            "organizations": [{"id": org, "input": encoded} for org in organizations],
        }
        if self.metadata.collaboration_id is not None:
            body["collaboration_id"] = self.metadata.collaboration_id
        if self.metadata.image:
            body["image"] = self.metadata.image
        if databases is not None:
            body["databases"] = databases
        return dict(self.transport.post("/task", json=body))

    def wait_for_task(self, task_id: int, timeout: float | None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            remaining = MAX_LONG_POLL if deadline is None else deadline - time.monotonic()
            hold = max(0, min(MAX_LONG_POLL, math.ceil(remaining)))
            started = time.monotonic()
            try:
                task = dict(self.transport.get(f"/task/{task_id}/wait",
                                               params={"timeout": hold},
                                               timeout=hold + self.transport.timeout))
            except REFUSALS as exc:
                # The server holds few waits per caller; come back when it says.
                delay = refusal_delay(exc) or 0.0
                if deadline is not None:
                    if time.monotonic() >= deadline:
                        raise
                    delay = max(0.0, min(delay, deadline - time.monotonic()))
                time.sleep(delay)
                continue
            if task.get("status") in _TERMINAL:
                return task
            if deadline is not None and time.monotonic() >= deadline:
                return task
            if hold and time.monotonic() - started < 0.05 * hold:
                # The server answered at once although nothing finished: do not spin.
                time.sleep(min(0.5, hold))

    def get_runs(self, task_id: int) -> list[dict[str, Any]]:
        runs = [self._decoded(raw) for raw in
                self.transport.iter_pages("/run", params={"task_id": task_id})]
        if not runs:
            # NOTE: every task has at least one run, so none means the server hid the task
            # from this token (another job's) or it does not exist: say so, as the mock does.
            raise NotFoundError(hidden_task_message(task_id))
        return runs

    def get_run(self, run_id: int) -> dict[str, Any]:
        return self._decoded(self.transport.get(f"/run/{run_id}"))

    def _decoded(self, raw: Any) -> dict[str, Any]:
        """A run as the proxy sends it, its result decoded (fetched when not inlined)."""
        run = dict(raw)
        what = f"result of run {run.get('id')} (organization {run.get('organization_id')})"
        if run.get("result") is None and run.get("result_size"):
            run["result"] = self._fetch_result(int(run["id"]))  # too big to inline
        else:
            run["result"] = decode_payload(run.get("result"), what=what)
        return run

    def _fetch_result(self, run_id: int) -> Any:
        """A result above the server's inline limit: raw bytes from ``/run/{id}/result``
        (opened by the node proxy), decoded without a base64 copy."""
        from v6lib.client.result_stream import open_result_stream

        with open_result_stream(self.transport, run_id) as body:
            return serialization.loads(body.read_all())

    def get_organizations(self) -> list[dict[str, Any]]:
        params = {"collaboration_id": self._collaboration_id()}
        return [dict(org) for org in self.transport.iter_pages("/organization", params=params)]

    def get_organization(self, organization_id: int) -> dict[str, Any]:
        return dict(self.transport.get(f"/organization/{organization_id}"))

    def get_collaboration(self) -> dict[str, Any]:
        return dict(self.transport.get(f"/collaboration/{self._collaboration_id()}"))

    def get_studies(self) -> list[dict[str, Any]]:
        params = {"collaboration_id": self._collaboration_id()}
        return [dict(study) for study in self.transport.iter_pages("/study", params=params)]

    def get_study(self, study_id: int) -> dict[str, Any]:
        return dict(self.transport.get(f"/study/{study_id}"))

    def _collaboration_id(self) -> int:
        if self.metadata.collaboration_id is None:
            raise AlgorithmError("the container token names no collaboration, so the "
                                 "collaboration of this run is unknown")
        return self.metadata.collaboration_id
