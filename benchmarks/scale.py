"""Many waiting nodes: ``v6 server start`` (default settings) with 100 to 5,000 long-polls.

A real server (``v6 server start --attach``: gunicorn, 2 workers, 8 threads, the
configured serving mode) on SQLite or PostgreSQL, with one node per organization and
``--per-collaboration`` organizations to a collaboration (the cost of creating a task
grows with its collaboration's size, which is not what this measures). Simulated
nodes are lightweight pollers, not daemons: one asyncio process (``--pollers``) keeps
one HTTP/1.1 connection per node and long-polls ``GET /event`` with the node's real
token, as the node daemon does. A researcher (this process) creates tasks, one
organization each, at a steady pace while a prober asks ``GET /health`` every 50 ms.
Printed per backend and number of waiting nodes:

* ``create``: ``POST /task`` latency, p50 / p99;
* ``told``: from sending ``POST /task`` until the target node's poll answered with its
  ``run_created`` event, p50 / p99; ``missed``: tasks whose node was never told, and
  polls answered with an error (429, 5xx, connection lost);
* ``health p99``: ``GET /health`` while nodes wait and tasks are created;
* ``RSS/worker``: resident memory of each worker at the end (MB);
* ``CPU/task``: server CPU (master and workers, user+system) during the creation
  window divided by the tasks created; ``net`` subtracts the CPU of an equally long
  window just before with the same waiters and no creation (what waiting itself costs,
  e.g. polls renewed at their timeout, stays out);
* ``connect CPU/node``: server CPU while the nodes connect (each node's first poll,
  answered at once, and its first long-poll, parked), divided by the nodes: what a burst
  of nodes asking at once (a restart, polls timing out together) costs per node;
  ``settle``: seconds after every node had its first answer until the server was
  quiet (its last first long-polls parked); the windows above start only then.

Several serving modes (``--serving event-loop,threads``) run one after the other on the
same seeded database, so they compare in one run. Simulated nodes pause for
``Retry-After`` after an answer without news, as the node daemon does.

The seeding (organizations, one collaboration, nodes, tokens) is bulk-inserted in
process (see ``seed``) before the server starts.

Usage::

    python benchmarks/scale.py [--nodes 0,100,1000,5000] [--backends sqlite,postgres]
        [--serving event-loop[,threads]] [--tasks 40] [--poll-timeout 60]

PostgreSQL runs when ``V6_TEST_POSTGRES_URL`` is set. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from _backends import backends

ROOT = Path(__file__).resolve().parents[1]
ROOT_PASSWORD = "Bench-root-1!"
TARGETS = "health p99 < 100 ms, told p99 < 100 ms, create p50 < 15 ms, RSS/worker < 250 MB " \
          "(1,000 nodes); CPU/task with 1,000 nodes <= 1.5x with none"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]:.1f}"


# --------------------------------------------------------------------------- seeding
def seed(url: str, workdir: Path, nodes: int, per_collaboration: int) -> dict[str, Any]:
    """Organizations with one node each, ``per_collaboration`` to a collaboration (with
    root's organization, whose root creates the tasks), and the nodes' tokens.

    The collaborations are made through the API; the organizations, memberships and
    nodes are bulk-inserted through the models (API keys unused: the tokens are issued
    by the server's own token service, as a login would), so 5,000 nodes take seconds.
    """
    from falcon import testing
    from sqlalchemy import insert, select

    from v6lib.config import load_server_config
    from v6lib.server.app import create_app
    from v6lib.server.db.models import Node, Organization
    from v6lib.server.db.models.collaboration import collaboration_organization

    config = load_server_config(workdir / "cfg" / "v6lib" / "server" / "bench.yaml")
    app = create_app(config, announce=lambda *_: None)
    client = testing.TestClient(app)
    state = app.v6_state
    try:
        login = client.simulate_post("/api/token/user", json={
            "username": "root", "password": ROOT_PASSWORD}).json
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        root_org = client.simulate_get("/api/organization", params={"name": "root"},
                                       headers=headers).json["data"][0]["id"]
        collabs = [client.simulate_post("/api/collaboration", headers=headers, json={
            "name": f"scale-{n}", "organization_ids": [root_org]}).json["id"]
            for n in range(-(-nodes // per_collaboration))]
        with state.engine.begin() as conn:
            conn.execute(insert(Organization), [{"name": f"org-{n}"} for n in range(nodes)])
            orgs = list(conn.execute(select(Organization.id).where(
                Organization.name.like("org-%")).order_by(Organization.id)).scalars())
            home = {org: collabs[n // per_collaboration] for n, org in enumerate(orgs)}
            conn.execute(insert(collaboration_organization), [
                {"collaboration_id": home[org], "organization_id": org} for org in orgs])
            conn.execute(insert(Node), [
                {"name": f"node-{org}", "organization_id": org, "collaboration_id": home[org],
                 "api_key_hash": "unusable"} for org in orgs])
            node_ids = list(conn.execute(select(Node.id).order_by(Node.organization_id))
                            .scalars())
        tokens = [state.tokens.issue_access("node", node, {"gen": 0}) for node in node_ids]
    finally:
        state.hub.stop()
        state.engine.dispose()
    return {"orgs": orgs, "home": home, "node_tokens": tokens}


# --------------------------------------------------------------------------- server
class Server:
    """``v6 server start NAME --attach`` in its own configuration home."""

    def __init__(self, url: str, workdir: Path, serving: str) -> None:
        self.port = _free_port()
        self.workdir = workdir
        home = workdir / "cfg" / "v6lib" / "server"
        home.mkdir(parents=True, exist_ok=True)
        (home / "bench.yaml").write_text(yaml.safe_dump({
            "name": "bench", "host": "127.0.0.1", "port": self.port, "uri": url,
            "root_password": ROOT_PASSWORD, "serving": serving,
            "jwt_secret_file": str(workdir / "jwt_secret.key"),
            "access_token_minutes": 600, "logging": {"level": "WARNING"}}))
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(workdir / "cfg"),
                    "XDG_DATA_HOME": str(workdir / "data"),
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                os.environ.get("PYTHONPATH")]))}
        self.base = f"http://127.0.0.1:{self.port}/api"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.workdir / "server.log", "wb") as log:  # the child keeps its copy
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from v6lib.cli import main; main()", "server",
                 "start", "bench", "--attach"], env=self.env, stdout=subprocess.DEVNULL,
                stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.workdir / 'server.log'}")
            try:
                if requests.get(self.base + "/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("server did not become healthy within 120 s")

    def pids(self) -> list[int]:
        assert self.process is not None
        return [self.process.pid, *self.workers()]

    def workers(self) -> list[int]:
        assert self.process is not None
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()
                except OSError:
                    continue
                if int(stat[1]) == self.process.pid:
                    found.append(int(entry))
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            total += int(stat[11]) + int(stat[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


# --------------------------------------------------------------------------- pollers
async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
               token: str) -> tuple[int, Any, dict[str, str]]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                 "\r\n".encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:  # chunked
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += await reader.readexactly(size + 2)
            body = body[:-2]
        await reader.readuntil(b"\r\n")
    return status, json.loads(body) if body else None, headers


async def _node(port: int, token: str, timeout: int, out: Any, ready: list[int],
                stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    try:
        status, answer, _ = await _get(reader, writer, "/api/event?timeout=0", token)
        cursor = answer["cursor"]
        ready.append(1)
        while not stop.is_set():
            status, answer, headers = await _get(
                reader, writer, f"/api/event?since={cursor}&timeout={timeout}", token)
            now = time.monotonic()
            if status != 200:
                out.write(json.dumps({"error": status}) + "\n")
                await asyncio.sleep(1)
                continue
            cursor = answer["cursor"]
            for event in answer["events"]:
                if event["type"] == "run_created":
                    out.write(json.dumps({"task": event["task_id"], "at": now}) + "\n")
            out.flush()
            if not answer["events"] and "retry-after" in headers:
                # answered at once, every slot taken (threads serving): the node pauses
                await asyncio.sleep(float(headers["retry-after"]))
    except (OSError, asyncio.IncompleteReadError) as exc:
        if not stop.is_set():
            out.write(json.dumps({"error": type(exc).__name__}) + "\n")
            out.flush()
    finally:
        writer.close()


async def _pollers(port: int, tokens: list[str], timeout: int) -> None:
    stop = asyncio.Event()
    ready: list[int] = []
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    tasks = []
    for token in tokens:
        tasks.append(asyncio.ensure_future(_node(port, token, timeout, sys.stdout, ready, stop)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.05)  # ramp up: no burst of thousands of connections
    while len(ready) < len(tokens):
        await asyncio.sleep(0.1)
        if all(task.done() for task in tasks):
            break
    await asyncio.sleep(1.0)  # the last first answers are back in their long-polls
    print(json.dumps({"ready": len(ready)}), flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Pollers:
    """The ``--pollers`` subprocess and what it reports on stdout."""

    def __init__(self, port: int, tokens: list[str], timeout: int, workdir: Path) -> None:
        (workdir / "tokens.json").write_text(json.dumps(tokens))
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--pollers", str(port), str(workdir / "tokens.json"),
             str(timeout)], stdout=subprocess.PIPE, text=True)
        self.told: dict[int, float] = {}
        self.errors: list[Any] = []
        self.ready = threading.Event()
        self.count = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            item = json.loads(line)
            if "ready" in item:
                self.count = item["ready"]
                self.ready.set()
            elif "task" in item:
                self.told.setdefault(item["task"], item["at"])
            else:
                self.errors.append(item["error"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# --------------------------------------------------------------------------- measuring
def _probe_health(base: str, stop: threading.Event, out: list[float]) -> None:
    http = requests.Session()
    while not stop.is_set():
        start = time.perf_counter()
        try:
            ok = http.get(base + "/health", timeout=30).status_code == 200
        except requests.RequestException:
            ok = False
        out.append((time.perf_counter() - start) * 1000 if ok else float("inf"))
        stop.wait(0.05)


def _settle(server: Server, quiet: float = 0.15, most: float = 300) -> float:
    """Seconds until the server is quiet (below ``quiet`` of a core for 1 s): the
    nodes' first long-polls queued behind the connection burst are parked by then, so
    what follows measures waiting nodes, not connecting ones."""
    started = time.monotonic()
    last = server.cpu_seconds()
    while time.monotonic() - started < most:
        time.sleep(1.0)
        now = server.cpu_seconds()
        if now - last < quiet:
            break
        last = now
    return time.monotonic() - started


def measure(server: Server, seeded: dict[str, Any], nodes: int, tasks: int,
            poll_timeout: int) -> dict[str, Any]:
    http = requests.Session()
    token = http.post(server.base + "/token/user", timeout=30, json={
        "username": "root", "password": ROOT_PASSWORD}).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    pollers = None
    connect = 0.0
    if nodes:
        connect_from = server.cpu_seconds()
        pollers = Pollers(server.port, seeded["node_tokens"][:nodes], poll_timeout,
                          server.workdir)
        if not pollers.ready.wait(600):
            raise RuntimeError("the pollers did not connect within 10 minutes")
        connect = (server.cpu_seconds() - connect_from) / nodes * 1000
        settled = _settle(server)
    health: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=_probe_health, args=(server.base, stop, health))
    prober.start()
    try:
        pace = 0.15
        idle_from = server.cpu_seconds()
        time.sleep(pace * tasks)  # the same waiters, no creation: the baseline window
        idle = server.cpu_seconds() - idle_from
        targets = seeded["orgs"][:max(nodes, 1)]  # none waiting: org 0 (its node does not poll)
        sent: dict[int, float] = {}
        created: list[float] = []
        failures = 0
        cpu_from = server.cpu_seconds()
        for _ in range(tasks):
            org = random.choice(targets)
            body = {"collaboration_id": seeded["home"][org], "name": "scale", "image": "i:1",
                    "organizations": [{"id": org, "input": "e30="}]}
            start_mono, start = time.monotonic(), time.perf_counter()
            try:
                answer = http.post(server.base + "/task", json=body, timeout=60)
            except requests.RequestException:
                answer = None
            created.append((time.perf_counter() - start) * 1000)
            if answer is None or answer.status_code != 201:
                failures += 1
                continue
            sent[answer.json()["id"]] = start_mono
            time.sleep(max(0.0, pace - (time.perf_counter() - start)))
        cpu = server.cpu_seconds() - cpu_from
        deadline = time.monotonic() + 10
        while pollers and len(pollers.told.keys() & sent.keys()) < len(sent) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        rss = server.rss_mb()
    finally:
        stop.set()
        prober.join()
        if pollers is not None:
            pollers.stop()
    told = [(pollers.told[t] - sent[t]) * 1000 for t in sent if t in pollers.told] \
        if pollers else []
    missed = len(sent) - len(told) if pollers else 0
    return {
        "nodes": pollers.count if pollers else 0, "create": created, "told": told,
        "missed": f"{missed} tasks, {len(pollers.errors) if pollers else 0} polls"
                  + (f" ({sorted(set(map(str, pollers.errors)))[:3]})"
                     if pollers and pollers.errors else "")
                  + (f", {failures} creates failed" if failures else ""),
        "health": health, "rss": rss, "cpu": cpu / max(1, len(sent)) * 1000,
        "net": (cpu - idle) / max(1, len(sent)) * 1000, "connect": connect,
        "settled": settled if nodes else 0.0,
    }


def _row(name: str, serving: str, count: int, got: dict[str, Any]) -> list[str]:
    health = got["health"]
    return [
        name, serving, f"{count} ({got['nodes']} ready)",
        f"{_pct(got['create'], 0.5)} / {_pct(got['create'], 0.99)}",
        f"{_pct(got['told'], 0.5)} / {_pct(got['told'], 0.99)}" if count else "-",
        f"{_pct(health, 0.99)} ({len(health)})",
        " ".join(f"{mb:.0f}" for mb in got["rss"]),
        f"{got['cpu']:.1f} / {got['net']:.1f}",
        f"{got['connect']:.1f} / {got['settled']:.0f}" if count else "-", got["missed"]]


def run_backend(name: str, url: str, counts: list[int],
                args: argparse.Namespace) -> list[list[str]]:
    """Every serving mode in ``--serving`` (one server after the other, the same seeded
    database), for every number of waiting nodes: the modes compare in one run."""
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="v6scale-"))
    try:
        servings = args.serving.split(",")
        Server(url, workdir, servings[0])  # writes the configuration seeding reads
        started = time.monotonic()
        seeded = seed(url, workdir, max(*counts, 1), args.per_collaboration)
        print(f"{name}: seeded {max(counts)} nodes in {time.monotonic() - started:.0f} s",
              file=sys.stderr)
        for serving in servings:
            server = Server(url, workdir, serving)
            server.start()
            try:
                for count in counts:
                    got = measure(server, seeded, count, args.tasks, args.poll_timeout)
                    rows.append(_row(name, serving, count, got))
                    print("  ".join(rows[-1]), file=sys.stderr)
            finally:
                server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--pollers":
        tokens = json.loads(Path(sys.argv[3]).read_text())
        asyncio.run(_pollers(int(sys.argv[2]), tokens, int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="0,100,1000,5000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--serving", default="event-loop",
                        help="event-loop, threads, or both comma-separated (compared in "
                             "one run, e.g. --serving event-loop,threads --nodes 100)")
    parser.add_argument("--tasks", type=int, default=40, help="tasks created per run")
    parser.add_argument("--per-collaboration", type=int, default=10,
                        help="organizations (nodes) per collaboration")
    parser.add_argument("--poll-timeout", type=int, default=60,
                        help="the simulated nodes' long-poll timeout (s)")
    args = parser.parse_args()
    counts = [int(n) for n in args.nodes.split(",")]
    rows = []
    for name, url, cleanup in backends(args.backends.split(","), "v6scale-db-"):
        try:
            rows.extend(run_backend(name, url, counts, args))
        finally:
            cleanup()
    from tabulate import tabulate

    print(f"{args.tasks} tasks per run, one organization each, "
          f"every 0.15 s; {args.per_collaboration} nodes per collaboration; nodes poll with "
          f"timeout={args.poll_timeout}")
    print(tabulate(rows, disable_numparse=True, headers=[
        "backend", "serving", "waiting nodes", "create p50/p99 ms", "told p50/p99 ms",
        "health p99 ms (n)", "RSS/worker MB", "CPU/task ms (raw/net)",
        "connect CPU/node ms / settle s", "missed"]))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} at the end")
    print(f"targets: {TARGETS}")


if __name__ == "__main__":
    main()
