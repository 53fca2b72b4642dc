"""The algorithm-facing part of the server, as docs/reference/http-api.md describes it.

Served on 127.0.0.1 by :class:`tests.wrappers.fake_proxy.FakeProxy` (the node proxy
forwards these paths unchanged). A built-in "node" runs each created run in a thread:
``echo`` returns where it ran and its arguments, ``sleep`` waits, ``fail`` fails. The
caller holds a container token of job 1 (its own task, id 1, is the parent of what it
creates); task 2 belongs to another job, so it is invisible (404) to the caller.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
import uuid
from typing import Any

from tests.wrappers.fake_proxy import FakeProxy, Request, page
from v6lib import serialization
from v6lib.schemas.run_status import RunStatus

TOKEN = "container-token"
IMAGE = "contract-algorithm:1"
COLLABORATION_ID = 1
ORGANIZATION_IDS = (1, 2, 3)
JOB_ID = 1
PARENT_TASK_ID = 1
FOREIGN_TASK_ID = 2

Answer = tuple[int, Any]


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"code": code, "message": message}


class FakeServer:
    """Tasks, runs, organizations and one collaboration, behind a container token."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._tasks: dict[int, dict[str, Any]] = {}
        self._runs: dict[int, dict[str, Any]] = {}
        self._task_ids = itertools.count(1)
        self._run_ids = itertools.count(1)
        self._workers: list[threading.Thread] = []
        self._add_task("central", JOB_ID, None, {1: RunStatus.ACTIVE})
        self._add_task("someone else's", 2, None, {2: RunStatus.COMPLETED})
        self.proxy = FakeProxy()
        for method, pattern, handler in [
            ("POST", r"/api/task", self._create_task),
            ("GET", r"/api/task/\d+/wait", self._wait),
            ("GET", r"/api/run", self._list_runs),
            ("GET", r"/api/run/\d+", self._run),
            ("GET", r"/api/study", lambda _request: (200, page([]))),
            ("GET", r"/api/study/\d+", lambda _request: _error(404, "not_found", "no study")),
            ("GET", r"/api/organization", self._organizations),
            ("GET", r"/api/organization/\d+", self._organization),
            ("GET", r"/api/collaboration/\d+", self._collaboration),
        ]:
            self.proxy.on(method, pattern, self._authenticated(handler))

    def start(self) -> FakeServer:
        self.proxy.start()
        return self

    @property
    def url(self) -> str:
        return self.proxy.url

    def stop(self) -> None:
        for worker in list(self._workers):
            worker.join()
        self.proxy.stop()

    # ------------------------------------------------------------------ state

    def _add_task(self, name: str, job_id: int, parent_id: int | None,
                  statuses: dict[int, RunStatus]) -> dict[str, Any]:
        with self._changed:
            task_id = next(self._task_ids)
            task = {"id": task_id, "uid": str(uuid.uuid4()), "name": name, "description": "",
                    "image": IMAGE, "collaboration_id": COLLABORATION_ID, "study_id": None,
                    "init_org_id": 1, "init_user_id": None, "parent_id": parent_id,
                    "job_id": job_id, "databases": [{"label": "default"}],
                    "created_at": "2026-01-01T00:00:00Z", "run_ids": []}
            for org, status in statuses.items():
                run_id = next(self._run_ids)
                self._runs[run_id] = {"id": run_id, "task_id": task_id, "organization_id": org,
                                      "status": status.value, "result": None, "log": "",
                                      "input": None}
                task["run_ids"].append(run_id)
            self._tasks[task_id] = task
            return task

    def _task_json(self, task: dict[str, Any]) -> dict[str, Any]:
        runs = [RunStatus(self._runs[i]["status"]) for i in task["run_ids"]]
        if all(s.is_terminal for s in runs):
            failed = [s for s in runs if s is not RunStatus.COMPLETED]
            status = failed[0].value if failed else RunStatus.COMPLETED.value
        elif any(s is not RunStatus.PENDING for s in runs):
            status = RunStatus.ACTIVE.value
        else:
            status = RunStatus.PENDING.value
        return {k: v for k, v in task.items() if k != "run_ids"} | {"status": status}

    def _visible(self, task_id: int) -> dict[str, Any] | None:
        task = self._tasks.get(task_id)
        return task if task is not None and task["job_id"] == JOB_ID else None

    # ------------------------------------------------------------------ the node

    def _execute(self, run_id: int) -> None:
        run = self._runs[run_id]
        self._set(run, RunStatus.ACTIVE)
        task_input = serialization.loads(base64.b64decode(run["input"]))
        method = task_input.get("method")
        args, kwargs = task_input.get("args", []), task_input.get("kwargs", {})
        if method == "echo":
            result: Any = {"organization_id": run["organization_id"], "args": args,
                           "kwargs": kwargs}
        elif method == "sleep":
            time.sleep(float(kwargs["seconds"]))
            result = None
        else:
            self._set(run, RunStatus.FAILED, log=f"RuntimeError: boom (method {method!r})")
            return
        encoded = base64.b64encode(serialization.dumps(result, root="result")).decode()
        self._set(run, RunStatus.COMPLETED, result=encoded)

    def _set(self, run: dict[str, Any], status: RunStatus, *, result: str | None = None,
             log: str = "") -> None:
        with self._changed:
            run.update(status=status.value, result=result, log=log)
            self._changed.notify_all()

    # ------------------------------------------------------------------ routes

    def _authenticated(self, handler: Any) -> Any:
        def serve(request: Request) -> Answer:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return _error(401, "authentication_error", "a valid token is required")
            return handler(request)

        return serve

    def _create_task(self, request: Request) -> Answer:
        body = request.body or {}
        if body.get("collaboration_id") != COLLABORATION_ID:
            return _error(403, "permission_denied",
                          "a subtask must stay in the collaboration of its parent")
        if body.get("image") != IMAGE:
            return _error(403, "permission_denied",
                          f"a subtask must use the image of its parent ({IMAGE!r})")
        organizations = body.get("organizations") or []
        refused = [o["id"] for o in organizations if o["id"] not in ORGANIZATION_IDS]
        if not organizations or refused:
            return _error(400, "validation_error", f"organizations: {refused} have no node "
                                                   f"in collaboration {COLLABORATION_ID}")
        task = self._add_task(body["name"], JOB_ID, PARENT_TASK_ID,
                              {o["id"]: RunStatus.PENDING for o in organizations})
        task["description"] = body.get("description", "")
        for organization, run_id in zip(organizations, task["run_ids"], strict=True):
            self._runs[run_id]["input"] = organization["input"]
            worker = threading.Thread(target=self._execute, args=(run_id,), daemon=True)
            self._workers.append(worker)
            worker.start()
        with self._changed:
            return 201, self._task_json(task)

    def _wait(self, request: Request) -> Answer:
        task = self._visible(int(request.path.split("/")[-2]))
        if task is None:
            return _error(404, "not_found", "no such task")
        timeout = min(float(request.params.get("timeout", 60)), 60.0)
        with self._changed:
            self._changed.wait_for(lambda: all(RunStatus(self._runs[i]["status"]).is_terminal
                                               for i in task["run_ids"]), timeout)
            return 200, self._task_json(task)

    def _list_runs(self, request: Request) -> Answer:
        task = self._visible(int(request.params.get("task_id", 0)))
        with self._changed:
            runs = [] if task is None else [dict(self._runs[i]) for i in task["run_ids"]]
        return 200, page(runs)

    def _run(self, request: Request) -> Answer:
        run = self._runs.get(int(request.path.rsplit("/", 1)[-1]))
        if run is None or self._visible(run["task_id"]) is None:
            return _error(404, "not_found", "no such run")
        with self._changed:
            return 200, dict(run)

    def _organizations(self, request: Request) -> Answer:
        if request.params.get("collaboration_id") != str(COLLABORATION_ID):
            return 200, page([])
        return 200, page([_organization(org) for org in ORGANIZATION_IDS])

    def _organization(self, request: Request) -> Answer:
        organization_id = int(request.path.rsplit("/", 1)[-1])
        if organization_id not in ORGANIZATION_IDS:
            return _error(404, "not_found", f"no organization {organization_id}")
        return 200, _organization(organization_id)

    def _collaboration(self, request: Request) -> Answer:
        if int(request.path.rsplit("/", 1)[-1]) != COLLABORATION_ID:
            return _error(404, "not_found", "no such collaboration")
        return 200, {"id": COLLABORATION_ID, "name": "contract", "encrypted": False,
                     "organization_ids": list(ORGANIZATION_IDS)}


def _organization(organization_id: int) -> dict[str, Any]:
    return {"id": organization_id, "name": f"organization {organization_id}",
            "domain": None, "country": None, "public_key": None}
