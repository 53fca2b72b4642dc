"""Node round trip: from ``POST /task`` to the results of 3 nodes, process vs Docker runtime.

Set-up, all on 127.0.0.1 and measured in one run:

* the real server under gunicorn (``v6 server start``, 2 gthread workers, SQLite);
* 3 organizations in a collaboration, each with a node daemon started as
  ``v6 node start --config <file>`` (a subprocess, as an operator runs it);
* a trivial algorithm ``v6_bench.noop`` (returns ``{"ok": true}``), run by the process
  runtime from a temporary directory and, for Docker, baked into ``v6-bench:latest`` on
  top of ``v6lib-base:latest``.

For each runtime the researcher's client creates a task for the 3 organizations and
waits for the 3 results (``UserClient.wait_for_results``: a long-poll, no polling
period), ``--repeat`` times after 2 warm-up tasks. The bare engine cost is measured next
to it: ``docker run --rm --network none v6-bench:latest python3 -c pass``, the same
image running the algorithm wrapper on a tiny input, and three ``docker run`` at once
(the engine's cost when the 3 nodes start their containers together).

Targets: process runtime p50 < 300 ms; Docker runtime p50 within the bare
``docker run`` p50 + 300 ms. Also measured for context: a task for one node only (one
node per Docker engine, as in production, where the 3 nodes do not share one engine).

Usage::

    python benchmarks/node.py [--repeat 15] [--runtimes process,docker]
    python benchmarks/node.py --runtimes bare   # the bare docker run rows alone
    python benchmarks/node.py --only-iterative --runtimes process,docker,docker-cold

``docker-cold`` is the Docker runtime with ``docker_warm_containers: false`` (a
container per run, as before warm containers), for the comparison in the same run.
The iterative rows: ``v6_bench.iterate`` at the first organization creates, ``--rounds``
times, a subtask at the 3 organizations and waits for its results; the per-round rows
say where a round's time goes (server timestamps and the central function's clock).

Prints a table; asserts nothing. Needs a Docker engine and ``v6lib-base:latest``
(``bash .ci/docker.sh && bash .ci/images.sh``) for the Docker rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROOT_PASSWORD = "Bench-root-1!"
IMAGE = "v6-bench:latest"
BASE_IMAGE = "v6lib-base:latest"
WARMUP = 2
ALGORITHM = '''"""A trivial algorithm for the node benchmark."""

import time

from v6lib.wrappers import algorithm_client


def noop() -> dict:
    """Return at once: what is measured is everything around the algorithm."""
    return {"ok": True}


@algorithm_client
def iterate(client, organizations: list, rounds: int = 10) -> dict:
    """An iterative fit's shape: each round a subtask at every organization, then wait.

    Returns, per round, the subtask id and the central function's clock before the
    create, after it and after the results arrived (for the benchmark's breakdown).
    """
    marks = []
    for _ in range(rounds):
        before = time.time()
        task = client.task.create(input_={"method": "noop"}, organizations=organizations,
                                  name="round")
        created = time.time()
        results = client.wait_for_results(task["id"])
        if results != [{"ok": True}] * len(organizations):
            raise RuntimeError(f"unexpected results {results}")
        marks.append([task["id"], before, created, time.time()])
    return {"rounds": marks}
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _v6() -> str:
    return str(Path(sys.executable).with_name("v6"))


class Server:
    """``v6 server start <config>`` (gunicorn), stopped with SIGTERM to the pid we started."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        config = workdir / "server.yaml"
        config.write_text(yaml.safe_dump({
            "name": "bench-node", "host": "127.0.0.1", "port": self.port,
            "uri": f"sqlite:///{workdir / 'server.sqlite'}", "root_password": ROOT_PASSWORD,
            "jwt_secret_file": "jwt_secret.key",  # beside this file, gone with the workdir
            "workers": 2, "threads": 16, "logging": {"level": "WARNING"}}))
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen([_v6(), "server", "start", "--attach", str(config)],
                                        stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        self.url = f"http://127.0.0.1:{self.port}/api"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {workdir / 'server.log'}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not become healthy within 90 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


class Nodes:
    """3 node daemons (``v6 node start``) of one runtime, for one federation."""

    def __init__(self, client: Any, server: Server, runtime: str, workdir: Path,
                 algorithms: Path, data: Path) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.runtime = runtime
        self.orgs = [client.organization.create(name=f"bench {runtime} {i} {suffix}")["id"]
                     for i in range(3)]
        # The researcher's organization is a member (without a node): tasks start there.
        researcher_org = int(client.whoami["organization"]["id"])
        self.collaboration = client.collaboration.create(f"bench {runtime} {suffix}",
                                                         [*self.orgs, researcher_org])["id"]
        self.names: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        for org in self.orgs:
            name = f"bench-{runtime[:4]}-{org}-{suffix}"
            key = client.node.create(collaboration=self.collaboration, organization=org,
                                     name=name)
            task_dir = workdir / name
            task_dir.mkdir()
            config = task_dir / "node.yaml"
            config.write_text(yaml.safe_dump({
                "name": name, "api_key": key, "server_url": "http://127.0.0.1",
                "port": server.port, "api_path": "/api", "task_dir": str(task_dir),
                "runtime": runtime.removesuffix("-cold"),
                "docker_warm_containers": not runtime.endswith("-cold"),
                "databases": {"default": {"uri": str(data), "type": "csv"}},
                "policies": {"allowed_images": [r"v6-bench:.*"]},
                "algorithm_env": {"PYTHONPATH": str(algorithms)} if runtime == "process" else {},
                "logging": {"level": "WARNING", "file": str(task_dir / "node.log"),
                            "use_console": False},
            }))
            self.names.append(name)
            self.processes.append(subprocess.Popen(
                [_v6(), "node", "start", "--attach", "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=task_dir))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def round_trip(client: Any, nodes: Nodes, phases: dict[str, list[float]] | None = None,
               organizations: list[int] | None = None) -> float:
    """Milliseconds from before ``POST /task`` until the results (3 unless
    ``organizations`` names fewer) are decoded.

    ``phases`` collects, from the server's timestamps (read after the clock stopped),
    each run's "created -> active" and "active -> finished" times.
    """
    targets = organizations or nodes.orgs
    start = time.perf_counter()
    task = client.task.create(collaboration=nodes.collaboration, organizations=targets,
                              name="bench", image=IMAGE, input_={"method": "noop"})
    results = client.wait_for_results(task["id"], timeout=60)
    elapsed = (time.perf_counter() - start) * 1000
    if results != [{"ok": True}] * len(targets):
        raise RuntimeError(f"unexpected results {results}")
    if phases is not None:
        created = _when(client.task.get(task["id"])["created_at"])
        for run in client.run.from_task(task["id"]):
            active, finished = _when(run["started_at"]), _when(run["finished_at"])
            phases.setdefault(f"  {nodes.runtime}: created -> active (per run)", []).append(
                (active - created) * 1000)
            phases.setdefault(f"  {nodes.runtime}: active -> finished (per run)", []).append(
                (finished - active) * 1000)
    return elapsed


def iterative(client: Any, nodes: Nodes, rounds: int,
              phases: dict[str, list[float]] | None = None) -> float:
    """Milliseconds from before ``POST /task`` of ``v6_bench.iterate`` (at the first
    organization) until its result: ``rounds`` rounds of a subtask at the 3 organizations.

    ``phases`` collects, per round, where the time goes: the central function's create
    call, each subtask run's "created -> active" (claim, files, container start) and
    "active -> finished" (the run itself: interpreter, imports, algorithm, result), and
    the central function's wake-up after the round's last result.
    """
    start = time.perf_counter()
    task = client.task.create(collaboration=nodes.collaboration, organizations=nodes.orgs[:1],
                              name="bench iterate", image=IMAGE,
                              input_={"method": "iterate",
                                      "kwargs": {"organizations": nodes.orgs,
                                                 "rounds": rounds}})
    (result,) = client.wait_for_results(task["id"], timeout=600)
    elapsed = (time.perf_counter() - start) * 1000
    if len(result["rounds"]) != rounds:
        raise RuntimeError(f"unexpected result {result}")
    if phases is not None:
        label = f"  {nodes.runtime} iterative, per round:"
        for subtask, before, created, woke in result["rounds"]:
            runs = client.run.from_task(subtask)
            finished = [_when(run["finished_at"]) for run in runs]
            add = phases.setdefault
            add(f"{label} central creates subtask", []).append((created - before) * 1000)
            add(f"{label} whole round", []).append((woke - before) * 1000)
            for run in runs:
                active = _when(run["started_at"])
                add(f"{label} created -> active", []).append((active - created) * 1000)
                add(f"{label} active -> finished", []).append(
                    (_when(run["finished_at"]) - active) * 1000)
            add(f"{label} last finished -> central woke", []).append(
                (woke - max(finished)) * 1000)
    return elapsed


def _when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def bare_docker(repeat: int, workdir: Path) -> dict[str, list[float]]:
    """``docker run`` of the same image: an empty interpreter, the wrapper on noop, and
    three empty interpreters at once (what the engine costs when 3 nodes start together)."""
    io = workdir / "bare"
    io.mkdir()
    (io / "input").write_text(json.dumps({"method": "noop", "args": [], "kwargs": {}}))
    io.chmod(0o777)
    empty = ["docker", "run", "--rm", "--network", "none", IMAGE, "python3", "-c", "pass"]
    commands = {
        "docker run (python3 -c pass)": (empty, 1),
        "docker run (wrapper, noop)": ([
            "docker", "run", "--rm", "--network", "none", "-v", f"{io}:/io",
            "-e", "INPUT_FILE=/io/input", "-e", "OUTPUT_FILE=/io/output",
            "-e", "TOKEN_FILE=/io/token", "-e", "TEMPORARY_FOLDER=/tmp",
            "-e", "USER_REQUESTED_DATABASE_LABELS=", IMAGE], 1),
        "3 x docker run at once (python3 -c pass)": (empty, 3),
        "docker run via launcher (python3 -c pass)": (_launched(empty), 1),
    }
    out: dict[str, list[float]] = {}
    for label, (command, copies) in commands.items():
        times = []
        for i in range(WARMUP + repeat):
            start = time.perf_counter()
            running = [subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL) for _ in range(copies)]
            if any(process.wait() != 0 for process in running):
                raise RuntimeError(f"{' '.join(command)} failed")
            if i >= WARMUP:
                times.append((time.perf_counter() - start) * 1000)
        out[label] = times
    return out


def _launched(command: list[str]) -> list[str]:
    """``command`` (a ``docker run``) started as the node starts images that do not run
    v6lib's wrapper: through the launcher, which forks the proxy relay first."""
    from v6lib.node.runtime.docker_launch import INTERPRETER, LAUNCHER, launch_files

    at = command.index(IMAGE)
    mounts = [arg for source, target in launch_files()
              for arg in ("-v", f"{source}:{target}:ro")]
    return [*command[:at], *mounts, "-e", "PROXY_SOCKET=/mnt/proxy/proxy.sock",
            "-e", "PORT=7654", "--entrypoint", INTERPRETER[0], IMAGE, *INTERPRETER[1:],
            str(LAUNCHER), "--", *command[at + 1:]]


def build_image(algorithms: Path) -> None:
    (algorithms / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nCOPY v6_bench /algorithm/v6_bench\n"
        "ENV PYTHONPATH=/algorithm PKG_NAME=v6_bench\n"
        'CMD ["python3", "-m", "v6lib.wrappers"]\n')
    subprocess.run(["docker", "build", "--quiet", "-t", IMAGE, str(algorithms)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--runtimes", default="process,docker",
                        help="process, docker, docker-cold, or bare (only the bare docker "
                             "run rows)")
    parser.add_argument("--rounds", type=int, default=10,
                        help="rounds of the iterative algorithm (0: skip it)")
    parser.add_argument("--iterative-repeat", type=int, default=3,
                        help="repetitions of the iterative algorithm (after 1 warm-up)")
    parser.add_argument("--only-iterative", action="store_true",
                        help="skip the single-task round trips and the bare engine rows")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (logs, configs) and print its path")
    args = parser.parse_args()
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    engine = any(r.startswith("docker") or r == "bare" for r in runtimes)
    runtimes = [r for r in runtimes if r != "bare"]

    from v6lib.client import Client

    rows: list[tuple[str, list[float]]] = []
    failures: list[str] = []
    holder = (contextlib.nullcontext(tempfile.mkdtemp(prefix="v6-bench-node-")) if args.keep
              else tempfile.TemporaryDirectory(prefix="v6-bench-node-"))
    with holder as tmp:
        workdir = Path(tmp)
        if args.keep:
            print(f"work directory: {workdir}", file=sys.stderr)
        workdir.chmod(0o755)
        algorithms = workdir / "algorithms"
        (algorithms / "v6_bench").mkdir(parents=True)
        (algorithms / "v6_bench" / "__init__.py").write_text(ALGORITHM)
        data = workdir / "data.csv"
        data.write_text("x\n1\n2\n")
        data.chmod(0o644)
        if engine:
            build_image(algorithms)
        server = Server(workdir) if runtimes else None
        try:
            for runtime in runtimes:
                assert server is not None
                client = Client(server.url.removesuffix("/api"), None, "/api")
                client.authenticate("root", ROOT_PASSWORD)
                nodes = Nodes(client, server, runtime, workdir, algorithms, data)
                try:
                    rows += _runtime_rows(client, nodes, args, failures)
                finally:
                    nodes.stop()
        finally:
            if server is not None:
                server.stop()
        if engine and not args.only_iterative:
            rows += list(bare_docker(args.repeat, workdir).items())

    report(rows, failures, args.repeat)


def _runtime_rows(client: Any, nodes: Nodes, args: argparse.Namespace,
                  failures: list[str]) -> list[tuple[str, list[float]]]:
    """One runtime's rows: the iterative algorithm, then the single-task round trips."""
    rows: list[tuple[str, list[float]]] = []
    runtime = nodes.runtime
    for _ in range(WARMUP):  # also waits until the 3 nodes are connected
        round_trip(client, nodes)
    if args.rounds:
        rows += _iterative_rows(client, nodes, args.rounds,
                                args.iterative_repeat, failures)
    if args.only_iterative:
        return rows
    times: list[float] = []
    phases: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        try:
            times.append(round_trip(client, nodes, phases))
        except Exception as exc:  # reported with the figures, not hidden
            failures.append(f"{runtime}: {type(exc).__name__}: {exc}")
    rows.append((f"{runtime} runtime: task -> 3 results", times))
    rows += list(phases.items())
    single: list[float] = []
    for _ in range(args.repeat):  # one node per engine, as in production
        try:
            single.append(round_trip(client, nodes,
                                     organizations=nodes.orgs[:1]))
        except Exception as exc:
            failures.append(f"{runtime}: {type(exc).__name__}: {exc}")
    rows.append((f"{runtime} runtime: task -> 1 result (1 node)", single))
    return rows


def _iterative_rows(client: Any, nodes: Nodes, rounds: int, repeat: int,
                    failures: list[str]) -> list[tuple[str, list[float]]]:
    """The iterative algorithm's rows for one runtime: its total and the breakdown."""
    phases: dict[str, list[float]] = {}
    times: list[float] = []
    for i in range(1 + repeat):
        try:
            elapsed = iterative(client, nodes, rounds, phases if i else None)
        except Exception as exc:
            failures.append(f"{nodes.runtime} iterative: {type(exc).__name__}: {exc}")
            continue
        if i:  # the first one is a warm-up
            times.append(elapsed)
    return [(f"{nodes.runtime} runtime: {rounds}-round iterative, 3 nodes", times),
            *phases.items()]


def report(rows: list[tuple[str, list[float]]], failures: list[str], repeat: int) -> None:
    """Print the table and the verdicts against the targets."""
    print(f"\nnode round trip on {os.cpu_count()} CPUs, {repeat} repetitions "
          f"(after {WARMUP} warm-up)")
    print(f"{'measurement':58} {'p50 ms':>9} {'p95 ms':>9} {'min ms':>9}")
    for label, values in rows:
        if not values:
            print(f"{label:58} {'(no successful repetition)':>29}")
            continue
        print(f"{label:58} {_pct(values, 0.5):9.0f} {_pct(values, 0.95):9.0f} "
              f"{min(values):9.0f}")
    for failure in failures:
        print(f"FAILED repetition: {failure}")
    stats = {label: values for label, values in rows if values}
    iterative_rows = {label.split(" runtime:")[0]: values for label, values in stats.items()
                      if "-round iterative, 3 nodes" in label}
    process_p50 = _pct(iterative_rows["process"], 0.5) if "process" in iterative_rows else None
    for runtime in ("docker", "docker-cold"):
        if process_p50 and runtime in iterative_rows:
            docker = _pct(iterative_rows[runtime], 0.5)
            ratio = docker / process_p50
            print(f"target iterative {runtime} p50 <= 3 x process p50: "
                  f"{'met' if ratio <= 3 else 'NOT met'} ({runtime} {docker:.0f} ms, "
                  f"process {process_p50:.0f} ms, ratio {ratio:.2f})")
    if "process runtime: task -> 3 results" in stats:
        p50 = _pct(stats["process runtime: task -> 3 results"], 0.5)
        print(f"target process p50 < 300 ms: {'met' if p50 < 300 else 'NOT met'} ({p50:.0f})")
    if "docker runtime: task -> 3 results" in stats:
        bare = _pct(stats["docker run (python3 -c pass)"], 0.5)
        p50 = _pct(stats["docker runtime: task -> 3 results"], 0.5)
        verdict = "met" if p50 < bare + 300 else "NOT met"
        print(f"target docker p50 < bare docker run p50 + 300 ms ({bare + 300:.0f}): "
              f"{verdict} ({p50:.0f})")
        together = stats.get("3 x docker run at once (python3 -c pass)")
        if together:
            print(f"  for context: the engine alone starts 3 containers at once in "
                  f"{_pct(together, 0.5):.0f} ms p50; the node adds "
                  f"{p50 - _pct(together, 0.5):.0f} ms to that")
        one = stats.get("docker runtime: task -> 1 result (1 node)")
        if one:
            single = _pct(one, 0.5)
            print(f"  one node per engine (as in production): p50 {single:.0f} ms, "
                  f"{'within' if single < bare + 300 else 'above'} bare + 300 ms")


if __name__ == "__main__":
    main()
