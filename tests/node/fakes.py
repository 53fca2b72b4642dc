"""Fakes for node tests: an in-memory server behind the Transport interface, and a runtime.

``FakeRuntime`` satisfies :class:`v6lib.node.runtime.base.ContainerRuntime`; its jobs
survive a node "restart" (like Docker containers) when the same instance is reused.
``FakeServer`` keeps the run state machine of the real server (can_transition, idempotent
terminal repeats, 409 otherwise) and records every status change a node asks for (each
PATCH, and the "initializing" of each claim), to assert exactly-once delivery.
"""

from __future__ import annotations

import base64
import itertools
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from v6lib import errors
from v6lib.client.transport import Transport
from v6lib.node.runtime.base import ExitInfo, JobSpec, ManagedJob
from v6lib.schemas.run_status import RunStatus, can_transition


# --------------------------------------------------------------------------- runtime
@dataclass
class FakeJob:
    handle: str
    spec: JobSpec
    done: threading.Event = field(default_factory=threading.Event)
    info: ExitInfo | None = None
    killed: bool = False


class FakeRuntime:
    """In-memory runtime; tests end jobs with :meth:`finish` (or ``auto`` on start)."""

    name = "fake"
    isolated = True

    def __init__(self, auto: Any = None) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.started: list[int] = []
        self.removed: list[str] = []
        self.auto = auto  # callable(spec) -> (exit_code, output bytes | None, logs)
        self.fail_start: Exception | None = None
        self._lock = threading.Lock()
        self._started_event = threading.Condition()

    def verify(self) -> None:
        return None

    def proxy_socket(self) -> Path | None:
        return None

    def output_owner(self) -> int:
        return os.geteuid()

    def start(self, spec: JobSpec) -> str:
        if self.fail_start is not None:
            raise self.fail_start
        handle = f"fake-{spec.run_id}-{len(self.started)}"
        job = FakeJob(handle, spec)
        with self._lock:
            self.jobs[handle] = job
            self.started.append(spec.run_id)
        with self._started_event:
            self._started_event.notify_all()
        if self.auto is not None:
            self.finish(handle, *self.auto(spec))
        return handle

    def wait_started(self, run_id: int, timeout: float = 5.0) -> FakeJob:
        with self._started_event:
            self._started_event.wait_for(lambda: self.job_of(run_id) is not None, timeout)
        job = self.job_of(run_id)
        assert job is not None, f"run {run_id} was never started"
        return job

    def job_of(self, run_id: int) -> FakeJob | None:
        with self._lock:
            for job in self.jobs.values():
                if job.spec.run_id == run_id:
                    return job
        return None

    def finish(self, handle: str, exit_code: int = 0, output: bytes | None = None,
               logs: str = "") -> None:
        job = self.jobs[handle]
        if output is not None:
            job.spec.output_file.write_bytes(output)
        job.info = ExitInfo(exit_code=exit_code, logs=logs)
        job.done.set()

    def wait(self, handle: str, timeout: float | None = None) -> ExitInfo | None:
        job = self.jobs.get(handle)
        if job is None:
            raise errors.RuntimeUnavailableError(f"no such job {handle}")
        return job.info if job.done.wait(timeout) else None

    def kill(self, handle: str) -> None:
        job = self.jobs.get(handle)
        if job is not None and not job.done.is_set():
            job.killed = True
            job.info = ExitInfo(exit_code=137, logs="killed")
            job.done.set()

    def remove(self, handle: str) -> None:
        with self._lock:
            if self.jobs.pop(handle, None) is not None:
                self.removed.append(handle)

    def list_managed(self) -> list[ManagedJob]:
        with self._lock:
            return [ManagedJob(j.handle, j.spec.run_id, not j.done.is_set())
                    for j in self.jobs.values()]

    def close(self) -> None:
        self.closed = True


# --------------------------------------------------------------------------- server
class FakeServer:
    """Just enough of the server's API for the node, in memory."""

    def __init__(self, *, encrypted: bool = False, version: str = "0.1.0") -> None:
        self.version = version
        self.down = False
        self.timeouts: dict[str, int] = {}  # path prefix -> next N requests time out
        self.lose_responses = 0  # apply the next N PATCHes, then pretend the link broke
        self.nodes_may_edit_organization = True
        self.organizations: dict[int, dict[str, Any]] = {}
        self.collaborations: dict[int, dict[str, Any]] = {
            1: {"id": 1, "name": "collab", "encrypted": encrypted, "organization_ids": []}}
        self.nodes: dict[int, dict[str, Any]] = {}
        self.api_keys: dict[str, int] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.runs: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.event_refusals: list[errors.V6Error] = []  # answers to the next event polls
        self.event_polls: list[tuple[float, bool]] = []  # (time.monotonic(), refused)
        self.event_timeouts: list[float] = []  # how long each event poll asked to be held
        self.busy = False  # answer event polls at once, as a server with no slot left
        self.patches: list[tuple[int, dict[str, Any], int]] = []  # run, body, http status
        self.claims: list[tuple[int, int]] = []  # run, http status of POST /run/{id}/claim
        self.lose_claim_responses = 0  # apply the next N claims, then pretend the link broke
        self.calls: list[tuple[str, str]] = []  # method, path of every authenticated call
        self.token_nodes: dict[str, int] = {}
        self.logins = 0
        self.valid_tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._new_event = threading.Condition(self._lock)

    # -- fixtures -----------------------------------------------------------------------
    def add_node(self, org_id: int, api_key: str = "key", name: str | None = None) -> int:
        with self._lock:
            self.organizations.setdefault(org_id, {"id": org_id, "name": f"org{org_id}",
                                                   "public_key": None})
            self.collaborations[1]["organization_ids"].append(org_id)
            node_id = 100 + org_id
            self.nodes[node_id] = {"id": node_id, "name": name or f"node{org_id}",
                                   "organization_id": org_id, "collaboration_id": 1,
                                   "status": "online"}
            self.api_keys[api_key] = node_id
            return node_id

    def create_task(self, image: str, inputs: dict[int, bytes], *, init_org_id: int = 1,
                    databases: list[dict[str, Any]] | None = None, uid: str | None = None,
                    init_user_id: int | None = 1,
                    max_run_seconds: float | None = None) -> dict[str, Any]:
        with self._lock:
            task_id = next(self._ids)
            task = {"id": task_id, "uid": uid or str(uuid.uuid4()), "name": "t",
                    "description": "", "created_at": "2026-01-01T00:00:00Z", "image": image,
                    "collaboration_id": 1, "init_org_id": init_org_id,
                    "init_user_id": init_user_id, "job_id": task_id, "parent_id": None,
                    "databases": databases if databases is not None else [
                        {"label": "default", "query": None}], "status": "pending",
                    "max_run_seconds": max_run_seconds}
            self.tasks[task_id] = task
            for org_id, data in inputs.items():
                run_id = next(self._ids)
                node = next((n for n in self.nodes.values() if n["organization_id"] == org_id),
                            None)
                self.runs[run_id] = {
                    "id": run_id, "task_id": task_id, "organization_id": org_id,
                    "node_id": node["id"] if node else None, "status": "pending",
                    "input": base64.b64encode(data).decode(), "result": None, "log": None,
                    "reason": None}
                self._emit({"type": "run_created", "task_id": task_id, "run_id": run_id,
                            "organization_id": org_id})
            return task

    def kill_task(self, task_id: int) -> None:
        with self._lock:
            for run in self.runs.values():
                if run["task_id"] == task_id and not RunStatus(run["status"]).is_terminal:
                    run["status"] = RunStatus.KILLED.value
            self._emit({"type": "task_killed", "task_id": task_id})

    def run_of(self, task_id: int, org_id: int) -> dict[str, Any]:
        return next(r for r in self.runs.values()
                    if r["task_id"] == task_id and r["organization_id"] == org_id)

    def accepted_terminal_patches(self, run_id: int) -> list[dict[str, Any]]:
        """PATCHes that moved the run into a terminal status (repeats excluded)."""
        return [b for r, b, code in self.patches if r == run_id and code == 201]

    def _emit(self, event: dict[str, Any]) -> None:
        event = {"id": len(self.events) + 1, "run_id": None, "organization_id": None,
                 "status": None, **event}
        self.events.append(event)
        self._new_event.notify_all()

    # -- HTTP ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: Any, params: dict[str, Any],
               token: str | None) -> Any:
        if self.down:
            raise errors.ServerUnavailableError("fake server is down")
        for prefix, count in self.timeouts.items():
            if count and path.lstrip("/").startswith(prefix):
                self.timeouts[prefix] = count - 1
                raise errors.ServerUnavailableError(
                    "cannot reach http://fake/api: ReadTimeout: read timed out")
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["token"]:
            return self._token(parts[1], body, token)
        if parts == ["version"]:
            return {"version": self.version, "api": 1}
        if token not in self.valid_tokens:
            raise errors.AuthenticationError("token expired")
        with self._lock:
            self.calls.append((method, path))
            if method == "POST" and len(parts) == 3 and parts[0] == "run" and \
                    parts[2] == "claim":
                return self._claim_run(int(parts[1]), self.token_nodes.get(str(token)))
            return self._resource(method, parts, body, params)

    def _token(self, kind: str, body: Any, token: str | None) -> Any:
        if kind == "node":
            node_id = self.api_keys.get(body["api_key"])
            if node_id is None:
                raise errors.AuthenticationError("invalid api key")
            self.logins += 1
            access = f"access-{uuid.uuid4()}"
            self.valid_tokens.add(access)
            self.token_nodes[access] = node_id
            return {"access_token": access, "refresh_token": f"refresh-{node_id}",
                    "node_url": f"/node/{node_id}", "id": node_id}
        if kind == "refresh":
            raise errors.AuthenticationError("refresh token expired")
        if kind == "container":
            if token not in self.valid_tokens:
                raise errors.AuthenticationError("token expired")
            return {"container_token": f"container-{body['run_id']}"}
        raise errors.NotFoundError(kind)

    def _resource(self, method: str, parts: list[str], body: Any,
                  params: dict[str, Any]) -> Any:
        kind, ident = parts[0], (int(parts[1]) if len(parts) > 1 else None)
        table = {"node": self.nodes, "organization": self.organizations,
                 "collaboration": self.collaborations, "task": self.tasks,
                 "run": self.runs}.get(kind)
        if kind == "event":
            return self._events(params)
        if table is None:
            raise errors.NotFoundError(f"/{kind}")
        if ident is None:
            return self._list(table, params)
        if ident not in table:
            raise errors.NotFoundError(f"{kind} {ident} not found")
        if method == "PATCH" and kind == "run":
            return self._patch_run(ident, body)
        if method == "PUT" and kind == "node" and parts[2:] == ["audit"]:
            table[ident].update(audit_count=body["count"], audit_head=body["head"])
        if method == "PATCH":
            if kind == "organization" and not self.nodes_may_edit_organization:
                raise errors.PermissionDenied("you may not edit this organization")
            table[ident].update(body)
        return dict(table[ident])

    def _list(self, table: dict[int, dict[str, Any]], params: dict[str, Any]) -> Any:
        filters = {k: v for k, v in params.items() if k not in ("page", "per_page")}
        items = [dict(v) for v in table.values()
                 if all(str(v.get(k)) == str(val) for k, val in filters.items())]
        page, per_page = int(params.get("page", 1)), int(params.get("per_page", 10))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = {"self": "x"}
        if page * per_page < len(items):
            links["next"] = "y"
        return {"data": chunk, "links": links, "total": len(items), "page": page,
                "per_page": per_page}

    def _patch_run(self, run_id: int, body: dict[str, Any]) -> Any:
        run = self.runs[run_id]
        current, new = RunStatus(run["status"]), RunStatus(body["status"])
        if not can_transition(current, new):
            self.patches.append((run_id, body, 409))
            raise errors.ConflictError(f"run {run_id}: {current} -> {new} not allowed")
        changed = current != new
        self.patches.append((run_id, body, 201 if changed and new.is_terminal else 200))
        if changed:
            run.update({k: v for k, v in body.items() if k != "status"})
            run["status"] = new.value
            self._emit({"type": "run_updated", "task_id": run["task_id"], "run_id": run_id,
                        "status": new.value})
        if self.lose_responses > 0:
            self.lose_responses -= 1
            raise errors.ServerUnavailableError("connection reset after the PATCH arrived")
        return dict(run)

    def _claim_run(self, run_id: int, node_id: int | None) -> Any:
        """The server's claim rules: the run's node only; pending, or initializing by it."""
        run = self.runs.get(run_id)
        if run is None:
            raise errors.NotFoundError(f"run {run_id} does not exist or is not visible to you")
        node = self.nodes.get(node_id or -1)
        if node is None or node["organization_id"] != run["organization_id"]:
            self.claims.append((run_id, 403))
            raise errors.PermissionDenied(f"run {run_id} belongs to another node")
        current = RunStatus(run["status"])
        if current is RunStatus.PENDING:
            run.update(status=RunStatus.INITIALIZING.value, node_id=node_id)
            self.patches.append((run_id, {"status": RunStatus.INITIALIZING.value}, 200))
            self._emit({"type": "run_updated", "task_id": run["task_id"], "run_id": run_id,
                        "status": RunStatus.INITIALIZING.value})
        elif current is not RunStatus.INITIALIZING or run["node_id"] != node_id:
            self.claims.append((run_id, 409))
            raise errors.ConflictError(f"run {run_id} cannot be claimed: it is {current}")
        self.claims.append((run_id, 200))
        if self.lose_claim_responses > 0:
            self.lose_claim_responses -= 1
            raise errors.ServerUnavailableError("connection reset after the claim arrived")
        return {"run": dict(run), "task": dict(self.tasks[run["task_id"]]),
                "container_token": f"container-{run_id}"}

    def _events(self, params: dict[str, Any]) -> Any:
        refusal = self.event_refusals.pop(0) if self.event_refusals else None
        self.event_polls.append((time.monotonic(), refusal is not None))
        self.event_timeouts.append(float(params.get("timeout", 0)))
        if refusal is not None:
            raise refusal
        since = params.get("since")
        since = len(self.events) if since is None else int(since)
        timeout = 0.0 if self.busy else min(float(params.get("timeout", 0)), 0.5)
        self._new_event.wait_for(lambda: len(self.events) > since, timeout)
        return {"events": self.events[since:], "cursor": len(self.events)}


class FakeTransport(Transport):
    """A Transport whose requests go to a FakeServer instead of the network."""

    def __init__(self, server: FakeServer) -> None:
        super().__init__("http://fake/api")
        self.server = server

    def request(self, method: str, path: str, *, json: Any = None,
                params: dict[str, Any] | None = None, timeout: float | None = None,
                authenticated: bool = True, headers: dict[str, str] | None = None) -> Any:
        token = self.token if authenticated else None
        if headers and "Authorization" in headers:
            token = headers["Authorization"].split(" ", 1)[1]
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return self.server.handle(method, path, json, clean, token)
        except errors.AuthenticationError:
            if authenticated and self.refresh is not None:
                new = self.refresh()
                if new:
                    self.token = new
                    return self.server.handle(method, path, json, clean, new)
            raise
