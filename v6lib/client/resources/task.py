"""``client.task``: send an algorithm to organizations, follow it, stop it."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from v6lib.client.payload import PayloadCodec
from v6lib.client.refusals import REFUSALS, refusal_delay
from v6lib.client.resources.base import ResourceClient, check_id, ids
from v6lib.errors import ServerUnavailableError, ValidationError, WaitTimeoutError
from v6lib.rules.task_requests import normalize_databases as shared_normalize
from v6lib.schemas import RunStatus

log = logging.getLogger(__name__)

__all__ = ["TaskClient", "normalize_databases"]

#: Longest a single ``GET /task/{id}/wait`` may be held by the server (the API's cap).
MAX_WAIT_WINDOW = 60.0
DEFAULT_WAIT_WINDOW = 30.0
#: How often a wait with ``on_progress`` looks at the runs' progress (seconds).
PROGRESS_WINDOW = 1.0

#: ``on_progress(run)``: a run (dict) whose progress changed.
ProgressCallback = Callable[[dict[str, Any]], None]


class _Outage:
    """A wait's view of an unreachable server: tell the user once, back off, tell again
    when it is back."""

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        self.delay = 0.0

    def lost(self, exc: ServerUnavailableError) -> float:
        """The next pause while the server is away (0.5 s doubling to 10 s)."""
        if not self.delay:
            log.warning("the server is unavailable (%s); still waiting for task %d and "
                        "reconnecting", exc.message, self.task_id)
        self.delay = min(10.0, max(0.5, self.delay * 2))
        return exc.retry_after or self.delay

    def back(self) -> None:
        if self.delay:
            log.warning("the server is back; waiting for task %d goes on", self.task_id)
        self.delay = 0.0


class _ProgressWatcher:
    """Calls back with each run whose progress changed since the last look."""

    def __init__(self, callback: ProgressCallback) -> None:
        self.callback = callback
        self.seen: dict[int, tuple[Any, Any]] = {}

    def look(self, runs: Iterable[Mapping[str, Any]]) -> None:
        for run in runs:
            now = (run.get("progress"), run.get("progress_message"))
            if now[0] is None or self.seen.get(run["id"]) == now:
                continue
            self.seen[run["id"]] = now
            self.callback(dict(run))


def _bounded(delay: float, deadline: float | None) -> float:
    if deadline is None:
        return delay
    return max(0.0, min(delay, deadline - time.monotonic()))


def normalize_databases(databases: Any, database: str | None = None) -> list[dict[str, Any]]:
    """``["default"]``, ``[{"label": "default"}]`` or ``None`` into the API's database list."""
    if database is not None:
        if databases is not None:
            raise ValidationError("give either databases=[...] or database='label', not both")
        databases = [database]
    if databases is None:
        return [{"label": "default"}]
    return shared_normalize(databases)


class TaskClient(ResourceClient):
    """Tasks: created by researchers (or by central algorithms as subtasks)."""

    path = "/task"
    filter_aliases = {"collaboration": "collaboration_id", "init_org": "init_org_id",
                      "job": "job_id", "parent": "parent_id", "study": "study_id"}

    def __init__(self, transport: Any, codec: PayloadCodec) -> None:
        super().__init__(transport)
        self.codec = codec

    def list(self, *, page: int | None = None, per_page: int | None = None,
             all_pages: bool = False, fields: Iterable[str] | None = None,
             **filters: Any) -> Any:
        """One page of tasks (filters: collaboration, init_org, job, parent, status)."""
        return self._list(filters, page, per_page, all_pages, fields)

    def get(self, id_: int) -> dict[str, Any]:
        """One task; ``status`` is derived from its runs."""
        return self._get(id_)

    def create(self, collaboration: int, organizations: Iterable[int], name: str = "",
               image: str = "", description: str = "",
               input_: Mapping[str, Any] | None = None, databases: Any = None,
               study: int | None = None, *, database: str | None = None,
               max_run_seconds: float | None = None) -> dict[str, Any]:
        """Create a task: one run of ``image`` per organization with the same input.

        Args:
            collaboration: id of the collaboration the task belongs to.
            organizations: ids of the organizations that run it.
            name: a name people recognize the task by.
            image: the algorithm image, e.g. ``"v6-average:latest"``.
            description: free text.
            input_: ``{"method": str, "args": [...], "kwargs": {...}}``; serialized with
                ``v6lib.serialization`` and, in an encrypted collaboration, sealed for each
                organization.
            databases: labels (``["default"]``) or dicts (``[{"label": ..., "query": ...}]``);
                ``None`` means ``[{"label": "default"}]``.
            study: restrict the task to a study of the collaboration.
            database: shorthand for a single label (``database="other"``).
            max_run_seconds: a time limit for each run; a node ends a run that takes
                longer (``failed``, "run exceeded the task's time limit of N s"). Each
                node applies the shorter of it and its own ``max_run_seconds``.

        Returns:
            The created task, including its ``id`` and ``uid``.
        """
        if not image:
            raise ValidationError("image is required, e.g. image='v6-average:latest'")
        if input_ is None:
            raise ValidationError("input_ is required, e.g. input_={'method': 'central_average',"
                                  " 'kwargs': {'column': 'age'}}")
        org_ids = ids(list(organizations), "organizations") or []
        if not org_ids:
            raise ValidationError("organizations: give at least one organization id")
        collaboration = check_id(collaboration)
        uid = str(uuid.uuid4())
        body: dict[str, Any] = {
            "collaboration_id": collaboration,
            "study_id": None if study is None else check_id(study),
            "name": name, "description": description, "image": image,
            "organizations": self.codec.encode_inputs(collaboration, org_ids, input_,
                                                      uid=uid, image=image),
            "databases": normalize_databases(databases, database),
            "uid": uid,
        }
        if max_run_seconds is not None:  # absent otherwise, as older servers expect
            body["max_run_seconds"] = max_run_seconds
        return self._create(body)

    def delete(self, id_: int) -> None:
        """Delete a task with its runs and results."""
        self._delete(id_)

    def kill(self, id_: int) -> dict[str, Any] | None:
        """Stop a task and every subtask it created; their runs end as 'killed by user'."""
        return self.transport.post(  # type: ignore[no-any-return]
            f"{self.path}/{check_id(id_)}/kill")

    def wait(self, id_: int, timeout: float | None = None,
             interval: float | None = None,
             on_progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Block until every run of the task is terminal; returns the task.

        The server holds each request until the task finishes or ``interval`` seconds
        (at most 60) pass, so finishing is noticed at once without busy polling.

        ``on_progress(run)`` is called with a run (its ``organization_id``, ``status``,
        ``progress`` from 0 to 1 and ``progress_message``) each time its progress
        changed, in the order the node reported it; the runs are then looked at every
        :data:`PROGRESS_WINDOW` seconds (the node forwards at most one report a second).

        Raises:
            WaitTimeoutError: ``timeout`` seconds passed first (the task keeps running).
        """
        check_id(id_)
        window = min(MAX_WAIT_WINDOW, interval or DEFAULT_WAIT_WINDOW)
        watcher = None if on_progress is None else _ProgressWatcher(on_progress)
        if watcher is not None:
            window = min(window, PROGRESS_WINDOW)
        if window <= 0:
            raise ValidationError(f"interval must be positive, got {interval}")
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = 0.05
        outage = _Outage(id_)
        while True:
            hold = window
            if deadline is not None:
                hold = max(0.0, min(window, deadline - time.monotonic()))
            started = time.monotonic()
            try:
                task = self.transport.get(
                    f"{self.path}/{id_}/wait", params={"timeout": round(hold, 3)},
                    timeout=max(self.transport.timeout, hold + 15.0))
                finished = self._finished(task, watcher)
            except REFUSALS as exc:
                # NOTE: the server holds few waits per caller; come back when it says
                # (never past the deadline: the next round then asks without waiting)
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeoutError(
                        f"task {id_}: still waiting after {timeout:g} s, and the server "
                        f"turned the last wait away ({exc.message}); the task keeps "
                        "running, wait again later", details={"task_id": id_}) from exc
                time.sleep(_bounded(refusal_delay(exc) or 0.0, deadline))
                continue
            except ServerUnavailableError as exc:
                # NOTE: a server restart or a database outage is not the task's end: keep
                # waiting, reconnecting with backoff, until the caller's own timeout
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeoutError(
                        f"task {id_}: still waiting after {timeout:g} s while the server is "
                        f"unavailable ({exc.message}); the task keeps running, wait again "
                        "later", details={"task_id": id_}) from exc
                time.sleep(_bounded(outage.lost(exc), deadline))
                continue
            outage.back()
            if finished:
                return task  # type: ignore[no-any-return]
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(
                    f"task {id_} still has unfinished runs after {timeout:g} s (status "
                    f"'{task.get('status')}'); it keeps running, wait again or kill it",
                    details={"task_id": id_, "status": task.get("status")})
            # NOTE: a server answering before its window ended without the task being
            # done must not turn this loop into a busy poll.
            if time.monotonic() - started < hold / 2:
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            else:
                backoff = 0.05

    def _finished(self, task: Mapping[str, Any],
                  watcher: _ProgressWatcher | None = None) -> bool:
        status = task.get("status")
        terminal = status is not None and RunStatus(status).is_terminal
        if not terminal and watcher is None:
            return False
        runs = list(self.transport.iter_pages("/run", params={"task_id": task["id"]}))
        if watcher is not None:
            watcher.look(runs)
        return terminal and all(RunStatus(run["status"]).is_terminal for run in runs)
