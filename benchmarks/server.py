"""Central server under gunicorn (2 workers) on SQLite and PostgreSQL: latency and throughput.

Measured against a real server on 127.0.0.1, seeded through the API (organizations,
collaboration, nodes) and, for the listing case, with 10,000 tasks bulk-inserted through
the models:

* ``login``: ``POST /token/user`` with the production argon2id cost;
* ``create task (c=1)`` / ``(c=8)``: ``POST /task`` for 3 organizations from 1 and 8
  concurrent clients (latency, tasks/s, and the server's CPU per task created: master
  and workers, user+system, read from /proc, so machine load hardly changes it);
* ``list tasks``: ``GET /task?page=1&per_page=10`` (and a deep page) with 10,000 tasks,
  as root and as a user of every default role in a node's organization (which sees the
  tasks through their runs, the visibility filter's hardest case); and the CPU time of one
  page with its total in-process, read through one ORed WHERE clause (as before) and
  through the index ranges task lists read now;
* ``node told``: from sending ``POST /task`` until a node long-polling ``GET /event``
  (usually in the other worker) has the ``run_created`` event.

Targets: creation p50 < 15 ms, node told p50 < 50 ms, list page p50 < 8 ms with 10,000
tasks for every default role; 8 clients creating tasks: >= 130 tasks/s on PostgreSQL and
p95 <= 3x p50 on both databases.

Usage::

    python benchmarks/server.py [--backends sqlite,postgres] [--quick]
        [--serving event-loop|threads] [--cases login,create,told,list]

The server runs as ``v6 server start`` runs it by default (``--serving event-loop``:
uvicorn workers with the ASGI front); ``threads`` runs gthread workers instead.

PostgreSQL runs when ``V6_TEST_POSTGRES_URL`` is set (``bash .ci/postgres.sh &&
source .ci/postgres.env``); each run uses a fresh database. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import yaml
from _backends import backends as _backends

ROOT = Path(__file__).resolve().parents[1]
ROOT_PASSWORD = "Bench-root-1!"
THREADS = 16
CASES = frozenset({"login", "create", "told", "list"})
TARGETS = {"create": 15.0, "told": 50.0, "list": 8.0, "rate_pg": 130.0, "tail": 3.0}
ROLES = ("Collaboration Admin", "Organization Admin", "Researcher", "Viewer")
USER_PASSWORD = "Bench-user-1!"
INPUT = base64.b64encode(json.dumps({"method": "average", "kwargs": {}}).encode()).decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


class Api:
    """A tiny JSON client for one base URL and one bearer token."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(
            method, self.base + path, json=body, params=params or None, timeout=70
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()


class Server:
    """gunicorn with 2 workers on 127.0.0.1, stopped by the pid we started.

    ``serving``: ``event-loop`` runs what ``v6 server start`` runs by default (uvicorn
    ``LoopWorker`` with the ASGI front), ``threads`` the gthread worker with the WSGI app.
    """

    def __init__(self, url: str, workdir: Path, serving: str = "event-loop") -> None:
        from v6lib.config import load_server_config
        from v6lib.server.app import prepare_database
        from v6lib.server.db.engine import make_engine

        self.port = _free_port()
        config_path = workdir / "server.yaml"
        config_path.write_text(
            yaml.safe_dump(
                {
                    "name": "bench",
                    "host": "127.0.0.1",
                    "port": self.port,
                    "uri": url,
                    "root_password": ROOT_PASSWORD,
                    # beside this file, gone with the workdir
                    "jwt_secret_file": "jwt_secret.key",
                }
            )
        )
        engine = make_engine(url)
        prepare_database(load_server_config(config_path), engine, announce=lambda *_: None)
        engine.dispose()
        env = {**os.environ, "V6_SERVER_CONFIG": str(config_path), "V6_SERVER_MIGRATED": "1",
               "V6_SERVER_THREADS": str(THREADS)}
        front = (["--worker-class", "v6lib.server.worker.LoopWorker", "v6lib.server.asgi:app"]
                 if serving == "event-loop" else
                 ["--worker-class", "gthread", "v6lib.server.wsgi:app"])
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--workers", "2", "--threads", str(THREADS),
                "--bind", f"127.0.0.1:{self.port}", "--timeout", "120",
                "--log-level", "warning", "--control-socket", str(workdir / "gunicorn.ctl"),
                *front,
            ],
            env=env,
            cwd=workdir,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}/api"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited during start-up")
            try:
                if requests.get(self.base + "/health", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become healthy within 60 s")

    def cpu_seconds(self) -> float:
        """User and system CPU of the master and its workers so far (from /proc)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ticks = 0
        for each in (pid, *map(int, children)):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[-1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _login(base: str) -> str:
    return Api(base).call("POST", "/token/user", {"username": "root", "password": ROOT_PASSWORD})[
        "access_token"
    ]


def _seed(base: str) -> dict[str, Any]:
    root = Api(base, _login(base))
    orgs = [root.call("POST", "/organization", {"name": f"bench-org-{n}"})["id"] for n in range(3)]
    # root's organization must be a member (without a node) to start the tasks
    root_org = root.call("GET", "/organization", name="root")["data"][0]["id"]
    collab = root.call(
        "POST", "/collaboration", {"name": "bench", "organization_ids": [*orgs, root_org]}
    )["id"]
    node_tokens = []
    for org in orgs:
        key = root.call("POST", "/node", {"collaboration_id": collab, "organization_id": org})[
            "api_key"
        ]
        node_tokens.append(Api(base).call("POST", "/token/node", {"api_key": key})["access_token"])
    return {"root": root, "orgs": orgs, "collab": collab, "node_tokens": node_tokens}


def _role_tokens(base: str, root: Api, org: int) -> dict[str, str]:
    """A user with each default role (besides Root) in ``org``, logged in."""
    tokens = {}
    for role in ROLES:
        role_id = next(r["id"] for r in root.call("GET", "/role", name=role, per_page=50)["data"]
                       if r["name"] == role)
        username = "bench-" + role.lower().replace(" ", "-")
        root.call("POST", "/user", {"username": username, "password": USER_PASSWORD,
                                    "organization_id": org, "role_ids": [role_id]})
        tokens[role] = Api(base).call("POST", "/token/user", {
            "username": username, "password": USER_PASSWORD})["access_token"]
    return tokens


def _task_body(seed: dict[str, Any]) -> dict[str, Any]:
    return {
        "collaboration_id": seed["collab"],
        "name": "bench",
        "image": "v6-average:latest",
        "organizations": [{"id": org, "input": INPUT} for org in seed["orgs"]],
        "databases": [{"label": "default"}],
    }


def bench_login(base: str, count: int) -> list[float]:
    client = Api(base)
    body = {"username": "root", "password": ROOT_PASSWORD}
    return [_timed(lambda: client.call("POST", "/token/user", body))[0] for _ in range(count)]


def bench_create(server: Server, token: str, seed: dict[str, Any], clients: int,
                 per_client: int) -> tuple[list[float], float, list[str], float]:
    """Latencies (ms), tasks/s, errors, and server CPU milliseconds per task created."""
    base = server.base
    body = _task_body(seed)

    def worker(_: int) -> tuple[list[float], list[str]]:
        api = Api(base, token)
        latencies, errors = [], []
        for _ in range(per_client):
            try:
                latencies.append(_timed(lambda: api.call("POST", "/task", body))[0])
            except RuntimeError as exc:  # a failed request is reported, not hidden
                errors.append(str(exc)[:200])
        return latencies, errors

    cpu_from = server.cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        chunks = list(pool.map(worker, range(clients)))
    elapsed = time.perf_counter() - start
    cpu = server.cpu_seconds() - cpu_from
    latencies = [ms for chunk, _ in chunks for ms in chunk]
    errors = [error for _, chunk in chunks for error in chunk]
    return latencies, len(latencies) / elapsed, errors, cpu * 1000 / max(1, len(latencies))


def bench_node_told(
    base: str, token: str, seed: dict[str, Any], count: int
) -> tuple[list[float], list[float]]:
    """Node of organization 0 long-polls; each POST /task must reach it.

    Returns the delays from sending the POST and from receiving its answer (the latter
    is negative when the node heard first).
    """
    node = Api(base, seed["node_tokens"][0])
    creator = Api(base, token)
    told: dict[int, float] = {}
    ready = threading.Event()
    done = threading.Event()

    def listen() -> None:
        cursor = node.call("GET", "/event", timeout=0)["cursor"]
        while not done.is_set():
            ready.set()
            answer = node.call("GET", "/event", since=cursor, timeout=5)
            now = time.perf_counter()
            cursor = answer["cursor"]
            for event in answer["events"]:
                if event["type"] == "run_created":
                    told.setdefault(event["task_id"], now)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(10)
    body = _task_body(seed)
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}
    for _ in range(count):
        time.sleep(0.05)  # the node is back in its long poll
        start = time.perf_counter()
        task_id = creator.call("POST", "/task", body)["id"]
        answered[task_id] = time.perf_counter()
        sent[task_id] = start
    deadline = time.monotonic() + 10
    while len(told.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.01)
    done.set()
    missing = sorted(sent.keys() - told.keys())
    if missing:
        raise RuntimeError(f"the node was never told about tasks {missing}")
    return (
        [(told[task] - sent[task]) * 1000 for task in sent],
        [(told[task] - answered[task]) * 1000 for task in sent],
    )


def bulk_tasks(url: str, seed: dict[str, Any], total: int) -> None:
    """Insert tasks (3 runs each) through the models until ``total`` tasks exist."""
    from sqlalchemy import func, insert, select

    from v6lib.server.db.engine import make_engine
    from v6lib.server.db.models import Run, Task

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            have = conn.execute(select(func.count(Task.id))).scalar() or 0
            first = (conn.execute(select(func.max(Task.id))).scalar() or 0) + 1
            need = max(0, total - have)
            ids = range(first, first + need)
            conn.execute(
                insert(Task),
                [
                    {
                        "id": task_id, "uid": uuid.uuid4().hex, "name": "bulk",
                        "image": "v6-average:latest", "collaboration_id": seed["collab"],
                        "init_org_id": seed["orgs"][0], "job_id": task_id, "databases": [],
                        "status": "completed", "description": "",
                    }
                    for task_id in ids
                ],
            )  # fmt: skip
            conn.execute(
                insert(Run),
                [
                    {"task_id": task_id, "organization_id": org, "status": "completed",
                     "input": INPUT}
                    for task_id in ids
                    for org in seed["orgs"]
                ],
            )  # fmt: skip
        if engine.dialect.name == "postgresql":
            from sqlalchemy import text

            with engine.begin() as conn:  # ids were given explicitly: move the sequences on
                for table in ("task", "run"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def bench_list(base: str, token: str, count: int, **params: Any) -> tuple[list[float], int]:
    api = Api(base, token)
    total = 0
    latencies = []
    for _ in range(count):
        ms, answer = _timed(lambda: api.call("GET", "/task", per_page=10, **params))
        latencies.append(ms)
        total = answer["total"]
    return latencies, total


def list_cpu(url: str, role: str, count: int) -> tuple[list[float], list[float]]:
    """CPU milliseconds of one list page (with its total) in this process, for the bench
    user of ``role``: through one ORed WHERE clause (the policy engine's filter, as task
    lists were read before) and through the index ranges ``list_tasks`` reads.

    Thread CPU time hardly depends on what else the machine runs, unlike the latency.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from v6lib.server.db.engine import make_engine
    from v6lib.server.db.models import Task, User
    from v6lib.server.permissions.policy import visible_filter
    from v6lib.server.permissions.principal import load_user_principal
    from v6lib.server.services.common import paginate
    from v6lib.server.services.context import ServiceContext
    from v6lib.server.services.tasks import list_tasks

    engine = make_engine(url)
    filtered, ranged = [], []
    try:
        with Session(engine) as session:
            username = "root" if role == "Root" else "bench-" + role.lower().replace(" ", "-")
            user = session.scalars(select(User).where(User.username == username)).one()
            me = load_user_principal(session, user)
            ctx = ServiceContext(session=session, tokens=None, events=None,  # type: ignore[arg-type]
                                 principal=me)
            stmt = select(Task).where(visible_filter(me, "task")).order_by(Task.id)
            for _ in range(count):
                start = time.thread_time()
                paginate(session, stmt, 1, 10)
                filtered.append((time.thread_time() - start) * 1000)
                start = time.thread_time()
                list_tasks(ctx, page=1, per_page=10)
                ranged.append((time.thread_time() - start) * 1000)
    finally:
        engine.dispose()
    return filtered, ranged


def run_backend(name: str, url: str, quick: bool, serving: str,
                cases: frozenset[str] = CASES) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []

    def add(case: str, values: list[float], note: str = "") -> None:
        if not values:
            rows.append((name, case, "-", "-", note))
            return
        rows.append((name, case, f"{_pct(values, 0.5):.1f}", f"{_pct(values, 0.95):.1f}", note))

    with tempfile.TemporaryDirectory(prefix="v6bench-") as tmp:
        server = Server(url, Path(tmp), serving)
        try:
            seed = _seed(server.base)
            token = _login(server.base)
            # users of a node's organization that did not start the tasks: they see
            # them through their runs
            role_tokens = _role_tokens(server.base, seed["root"], seed["orgs"][1])
            if "login" in cases:
                add("login", bench_login(server.base, 10 if quick else 30))
            bench_create(server, token, seed, 1, 5)  # warm both workers
            creations = ((1, 30 if quick else 100), (8, 10 if quick else 40))
            for clients, each in creations if "create" in cases else ():
                lat, rate, errors, cpu = bench_create(server, token, seed, clients, each)
                note = (f"{rate:.0f} tasks/s; p95/p50 {_pct(lat, 0.95) / _pct(lat, 0.5):.1f}; "
                        f"server CPU {cpu:.1f} ms/task")
                if errors:
                    note += f"; {len(errors)} of {clients * each} FAILED: {errors[0][:90]}"
                add(f"create task (c={clients})", lat, note)
            if "told" in cases:
                from_sent, from_answer = bench_node_told(server.base, token, seed,
                                                         15 if quick else 40)
                add("node told (from POST sent)", from_sent)
                add("node told (after POST answer)", from_answer, "negative: node heard first")
            if "list" not in cases:
                return rows
            bulk_tasks(url, seed, 10_000)
            for role, role_token in {"Root": token, **role_tokens}.items():
                lat, total = bench_list(server.base, role_token, 20 if quick else 50)
                add(f"list tasks p1 {role} ({total})", lat)
            for role in ("Root", *ROLES):
                filtered, ranged = list_cpu(url, role, 10 if quick else 30)
                add(f"  list CPU {role}: one WHERE", filtered, "thread CPU ms, in-process")
                add(f"  list CPU {role}: index ranges", ranged, "thread CPU ms, in-process")
            lat, total = bench_list(server.base, token, 20 if quick else 50, page=500)
            add(f"list tasks p500 ({total})", lat)
            lat, total = bench_list(
                server.base, token, 20 if quick else 50, collaboration_id=seed["collab"]
            )
            add(f"list tasks by collab ({total})", lat)
        finally:
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--serving", choices=("event-loop", "threads"), default="event-loop",
                        help="the gunicorn worker: v6 server start's default or gthread")
    parser.add_argument("--cases", default=",".join(sorted(CASES)),
                        help="which measurements, of " + ", ".join(sorted(CASES)))
    args = parser.parse_args()
    rows = []
    for name, url, cleanup in _backends(args.backends.split(",")):
        try:
            rows.extend(run_backend(name, url, args.quick, args.serving,
                                    frozenset(args.cases.split(",")) & CASES))
        finally:
            cleanup()
    from tabulate import tabulate

    print(
        tabulate(
            rows, headers=["backend", "case", "p50 ms", "p95 ms", "notes"], disable_numparse=True
        )
    )
    print(
        f"targets: create p50 < {TARGETS['create']:.0f} ms, node told p50 < "
        f"{TARGETS['told']:.0f} ms, list page p50 < {TARGETS['list']:.0f} ms with 10,000 tasks "
        f"for every role; create (c=8) >= {TARGETS['rate_pg']:.0f} tasks/s on postgres, "
        f"p95 <= {TARGETS['tail']:.0f}x p50"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} at the end (figures from "
          f"a busy machine are slower); server: gunicorn 2 workers x {THREADS} threads, "
          f"{args.serving} serving; server CPU: master and workers, user+system, from /proc")


if __name__ == "__main__":
    main()
