"""A 300 MB run result through a real server: streamed upload and download, memory, latency.

Starts ``v6 server start`` (gunicorn, 2 gthread workers) on SQLite (and PostgreSQL when
``V6_TEST_POSTGRES_URL`` is set), seeds a task through the API and then measures:

* ``upload``: the node's ``upload_result_file`` (SHA-256 pre-pass over the file, then
  ``PUT /run/{id}/result`` streaming the file object), in a child process whose peak RSS
  is reported;
* ``download raw``: ``client.result.download`` to a file, in a child process;
* ``download + decode``: ``client.result.get`` (fetch, then ``serialization.loads``) of a
  JSON result of the same size, in a child process: one body copy, the JSON text while
  parsing, and the value itself are expected;
* the latency of ``GET /health`` and of a small write (``POST /organization``) while
  idle, during the upload and during the download, measured in the same run;
* the peak RSS (VmHWM) of the gunicorn workers.

Usage::

    python benchmarks/big_result.py [--size-mb 300] [--backends sqlite,postgres]

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROOT_PASSWORD = "Bench-root-1!"
USER_PASSWORD = "Bench-user-1!"
MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """``v6 server start <config>`` in the background, stopped by the pid we started."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.port = _free_port()
        config = workdir / "server.yaml"
        config.write_text(yaml.safe_dump({
            "name": f"bigresult-{uuid.uuid4().hex[:8]}", "host": "127.0.0.1",
            "port": self.port, "uri": url, "root_password": ROOT_PASSWORD,
            "jwt_secret_file": "jwt_secret.key",  # beside this file, gone with the workdir
            "workers": 2, "threads": 8, "logging": {"level": "WARNING"}}))
        v6 = Path(sys.executable).with_name("v6")
        self.process = subprocess.Popen([str(v6), "server", "start", "--attach", str(config)],
                                        cwd=workdir, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}/api"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            try:
                if requests.get(f"{self.base}/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not become healthy within 60 s")

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _post(base: str, path: str, body: Any, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.post(f"{base}{path}", json=body, headers=headers, timeout=60)
    if answer.status_code >= 400:
        raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text}")
    return answer.json()


def _seed(base: str) -> dict[str, Any]:
    """An organization, a collaboration with a node, a researcher and two claimed runs."""
    root = _post(base, "/token/user", {"username": "root", "password": ROOT_PASSWORD})
    root = root["access_token"]
    org = _post(base, "/organization", {"name": "site"}, root)["id"]
    collab = _post(base, "/collaboration", {"name": "big", "organization_ids": [org]},
                   root)["id"]
    key = _post(base, "/node", {"collaboration_id": collab, "organization_id": org},
                root)["api_key"]
    roles = requests.get(f"{base}/role", params={"per_page": 100}, timeout=30,
                         headers={"Authorization": f"Bearer {root}"}).json()["data"]
    researcher = next(r["id"] for r in roles if r["name"] == "Researcher")
    _post(base, "/user", {"username": "bench", "password": USER_PASSWORD,
                          "organization_id": org, "role_ids": [researcher]}, root)
    node = _post(base, "/token/node", {"api_key": key})["access_token"]
    user = _post(base, "/token/user", {"username": "bench", "password": USER_PASSWORD})
    user = user["access_token"]
    runs = []
    for _ in range(2):
        task = _post(base, "/task", {"collaboration_id": collab, "name": "big", "image": "i:1",
                                     "organizations": [{"id": org, "input": "e30="}]}, user)
        run = requests.get(f"{base}/run", params={"task_id": task["id"]}, timeout=30,
                           headers={"Authorization": f"Bearer {root}"}).json()["data"][0]
        for status in ("initializing", "active"):
            requests.patch(f"{base}/run/{run['id']}", json={"status": status}, timeout=30,
                           headers={"Authorization": f"Bearer {node}"}).raise_for_status()
        runs.append(run["id"])
    return {"root": root, "node": node, "runs": runs}


# ------------------------------------------------------------------ child processes


def _child(argv: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *argv], check=True,
                         capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _child_main(kind: str, base: str, token: str, run_id: str, path: str) -> None:
    """One transfer in a fresh process, so its peak RSS is the transfer's own."""
    before = _rss_mb()
    started = time.perf_counter()
    if kind == "upload":  # the node's own code path: digest pre-pass, streamed PUT
        from v6lib.client.transport import Transport
        from v6lib.node.result_files import upload_result_file

        transport = Transport(base, timeout=600)
        transport.token = token
        upload_result_file(transport, int(run_id), Path(path))
    else:
        from v6lib.client import Client

        client = Client(base.rsplit("/api", 1)[0], None, "/api", timeout=600)
        client.authenticate("bench", USER_PASSWORD)
        before = _rss_mb()
        started = time.perf_counter()
        if kind == "download":
            client.result.download(int(run_id), path)
        else:
            value = client.result.get(int(run_id))["result"]
            assert isinstance(value, dict) and len(value["blob"]) > 0
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": _rss_mb()}))


# ------------------------------------------------------------------ latency probe


class Probe(threading.Thread):
    """Times ``GET /health`` and a small write every ``pause`` seconds, by phase."""

    def __init__(self, base: str, token: str, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.pause = base, token, pause
        self.phase = "idle"
        self.samples: dict[tuple[str, str], list[float]] = {}
        self.stopped = threading.Event()
        self.http = requests.Session()

    def _time(self, name: str, call: Any) -> None:
        began = time.perf_counter()
        answer = call()
        answer.raise_for_status()
        self.samples.setdefault((self.phase, name), []).append(
            (time.perf_counter() - began) * 1000)

    def run(self) -> None:
        auth = {"Authorization": f"Bearer {self.token}"}
        while not self.stopped.is_set():
            self._time("GET /health", lambda: self.http.get(f"{self.base}/health", timeout=60))
            self._time("POST /organization", lambda: self.http.post(
                f"{self.base}/organization", json={"name": uuid.uuid4().hex}, headers=auth,
                timeout=60))
            time.sleep(self.pause)


def _stats(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):7.1f} {p95:7.1f} {ordered[-1]:7.1f}  (n={len(values)})"


def _make_files(workdir: Path, size: int) -> tuple[Path, Path]:
    raw = workdir / "result.bin"
    with raw.open("wb") as out:
        left = size
        while left:
            piece = os.urandom(min(left, 8 * MB))
            out.write(piece)
            left -= len(piece)
    payload = workdir / "result.json"
    with payload.open("wb") as out:  # what serialization.dumps({"blob": "x" * n}) gives
        out.write(b'{"blob":"')
        left = size - len(b'{"blob":""}')
        chunk = b"x" * (8 * MB)
        while left:
            out.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))
        out.write(b'"}')
    return raw, payload


def bench(url: str, label: str, size: int, rows: list[list[str]]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="v6-bigresult-"))
    server = None
    try:
        raw, payload = _make_files(workdir, size)
        server = Server(url, workdir)
        seeded = _seed(server.base)
        probe = Probe(server.base, seeded["root"])
        probe.start()
        time.sleep(3)
        probe.phase = "upload"
        up = _child(["upload", server.base, seeded["node"], str(seeded["runs"][0]), str(raw)])
        probe.phase = "idle"
        time.sleep(1)
        probe.phase = "download"
        down = _child(["download", server.base, "", str(seeded["runs"][0]),
                       str(workdir / "down.bin")])
        probe.phase = "between"
        probe.stopped.set()
        probe.join()
        same = _same_file(raw, workdir / "down.bin")
        (workdir / "down.bin").unlink()
        raw.unlink()
        _child(["upload", server.base, seeded["node"], str(seeded["runs"][1]), str(payload)])
        decoded = _child(["decode", server.base, "", str(seeded["runs"][1]), ""])
        workers = max((_hwm_mb(pid) for pid in server.workers()), default=0.0)
        mb = size / MB
        for name, result in (("upload (node, PUT)", up), ("download raw (client)", down),
                             ("download + decode JSON", decoded)):
            rows.append([label, name, f"{result['seconds']:.2f}",
                         f"{mb / result['seconds']:.0f}",
                         f"{result['rss_before_mb']:.0f} -> {result['peak_rss_mb']:.0f}"])
        rows.append([label, "server worker peak RSS (VmHWM)", "", "", f"{workers:.0f}"])
        rows.append([label, f"download identical: {same}", "", "", ""])
        print(f"\n[{label}] latency ms: p50 p95 max", flush=True)
        for phase in ("idle", "upload", "download"):
            for name in ("GET /health", "POST /organization"):
                print(f"  {phase:9s} {name:19s} {_stats(probe.samples.get((phase, name), []))}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _same_file(a: Path, b: Path) -> bool:
    with a.open("rb") as x, b.open("rb") as y:
        while True:
            left, right = x.read(8 * MB), y.read(8 * MB)
            if left != right:
                return False
            if not left:
                return True


def _drop(drop_database: Any, url: str) -> None:
    """Drop the benchmark database; autovacuum (after a big delete) may hold it a while."""
    for attempt in range(10):
        try:
            drop_database(url)
            return
        except Exception as exc:  # psycopg errors: retried, then reported
            if attempt == 9:
                print(f"could not drop the benchmark database {url}: {exc}", file=sys.stderr)
            time.sleep(3)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child_main(*sys.argv[2:7])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    size = args.size_mb * MB
    rows: list[list[str]] = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            db = Path(tempfile.mkdtemp(prefix="v6-bigresult-db-"))
            try:
                bench(f"sqlite:///{db / 'server.sqlite'}", "sqlite", size, rows)
            finally:
                shutil.rmtree(db, ignore_errors=True)
        elif backend == "postgres" and os.environ.get("V6_TEST_POSTGRES_URL"):
            sys.path.insert(0, str(ROOT))
            from tests.postgres import drop_database, fresh_postgres_url

            url = fresh_postgres_url()
            try:
                bench(url, "postgres", size, rows)
            finally:
                _drop(drop_database, url)
    from tabulate import tabulate

    print()
    print(tabulate(rows, headers=["db", f"{args.size_mb} MB result", "seconds", "MB/s",
                                  "process RSS MB (start -> peak)"]))


if __name__ == "__main__":
    main()
