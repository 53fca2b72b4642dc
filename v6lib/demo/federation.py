"""The demo federation: a real server and three real nodes on this machine, from nothing.

Everything lives in one temporary directory (server database, node configs, data,
logs); the server runs under gunicorn and each node as ``v6 node start`` in its own
process, exactly as an operator would run them. The researcher's task goes through
the real HTTP API, and the federated answer is checked against pandas on the pooled
files.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from v6lib.cli.background import V6
from v6lib.client import Client
from v6lib.crypto import generate_private_key, public_key_b64, save_private_key
from v6lib.demo.data import SITES, central_mean, write_sites
from v6lib.demo.locate import average_example_path
from v6lib.demo.processes import ManagedProcess, free_port, http_ok, log_tail, wait_until
from v6lib.errors import ConfigurationError, RuntimeUnavailableError, V6Error
from v6lib.private_files import write_private

#: what the demo's server imports beyond v6lib's core: (module, the extra that brings it)
_SERVER_MODULES = (("falcon", "server"), ("gunicorn", "server"), ("uvicorn", "server"),
                   ("alembic", "server"))

__all__ = ["DemoFederation", "DemoOptions", "DemoReport"]

_T = TypeVar("_T")

IMAGE = "v6-average:latest"
RESEARCHER = "researcher"
TOLERANCE = 1e-9


def _password() -> str:
    # NOTE: the suffix satisfies the default password policy (upper, lower, digit, symbol).
    return secrets.token_urlsafe(15) + "-Aa7"


@dataclass
class DemoOptions:
    """What ``v6 demo`` was asked for."""

    runtime: str = "process"
    keep: bool = False
    seed: int = 6
    column: str = "age"
    timeout: float = 180.0
    encrypted: bool = False
    workdir: Path | None = None
    echo: Callable[[str], None] = print
    #: the algorithm image the nodes allow (and, with the Docker runtime, must exist)
    image: str = IMAGE
    #: one data file per organization instead of the synthetic tables (type by suffix)
    data: tuple[Path, ...] = ()


@dataclass
class DemoReport:
    """What the demo measured; ``ok`` means federated and central values agree."""

    workdir: Path
    port: int
    task_id: int
    federated: float
    central: float
    count: int
    timings: dict[str, float]
    researcher_password: str
    root_password: str
    collaboration_id: int
    organization_ids: list[int]
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def difference(self) -> float:
        return abs(self.federated - self.central)

    @property
    def ok(self) -> bool:
        return self.difference <= TOLERANCE

    @property
    def ui_url(self) -> str:
        """The web UI of the demo's server, for a person with a browser."""
        return f"http://127.0.0.1:{self.port}/ui"

    def as_dict(self) -> dict[str, Any]:
        return {"workdir": str(self.workdir), "server": f"http://127.0.0.1:{self.port}/api",
                "ui": self.ui_url,
                "port": self.port, "username": RESEARCHER,
                "password": self.researcher_password,
                "task_id": self.task_id, "federated_mean": self.federated,
                "central_mean": self.central, "count": self.count,
                "difference": self.difference, "ok": self.ok, "timings": self.timings,
                "collaboration_id": self.collaboration_id,
                "organization_ids": self.organization_ids, "pids": self.pids}


class DemoFederation:
    """Set up, run and tear down the demo; ``run()`` returns the report."""

    def __init__(self, options: DemoOptions) -> None:
        if options.runtime not in ("process", "docker"):
            raise ConfigurationError(
                f"runtime must be 'process' or 'docker', got {options.runtime!r}")
        if options.data and len(options.data) != len(SITES):
            raise ConfigurationError(
                f"give one data file per organization: {len(SITES)}, not {len(options.data)}")
        missing = [str(path) for path in options.data if not Path(path).is_file()]
        if missing:
            raise ConfigurationError(f"data file(s) not found: {', '.join(missing)}")
        self.options = options
        self.echo = options.echo
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="v6-demo-"))
        self.port = free_port()
        self.root_password = _password()
        self.researcher_password = _password()
        self.server: ManagedProcess | None = None
        self.nodes: list[ManagedProcess] = []
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ steps
    def run(self) -> DemoReport:
        """The whole demo; cleans up afterwards unless ``keep`` (or on any error)."""
        return self.run_with(self._run)

    def run_with(self, work: Callable[[], _T]) -> _T:
        """``work()`` (which starts the federation), then the clean-up ``run`` does.

        A failure carries the errors of the server's log: its directory is about to go.
        """
        done = False
        try:
            report = work()
            done = True
            return report
        except V6Error as exc:
            # The directory (and its logs) is about to go: keep the server's last words.
            if self.server is not None:
                errors_seen = [line for line in log_tail(self.server.log_file, 400).splitlines()
                               if "Error" in line and "HTTP/1." not in line]
                if errors_seen:
                    exc.message += ("\n--- errors in the server log:\n"
                                    + "\n".join(errors_seen[-6:]))
                    exc.args = (exc.message,)
            raise
        finally:
            if not (done and self.options.keep):
                self.stop()

    def _run(self) -> DemoReport:
        return self._run_task(*self.start())

    def start(self) -> tuple[list[dict[str, Any]], dict[str, Any], list[Path]]:
        """Server, organizations, collaboration and online nodes, with their data files.

        Returns the organizations and the collaboration (as the server describes them)
        and each organization's data file. ``stop()`` ends it all.
        """
        env = self._child_env()
        self._check_packages()
        self._check_runtime()
        self.echo(f"v6 demo: working directory {self.workdir}")
        self._start_server(env)
        root = self._login("root", self.root_password)
        organizations, collaboration = self._provision(root)
        paths = ([Path(path).resolve() for path in self.options.data] or
                 write_sites(self.workdir / "data", seed=self.options.seed))
        self._start_nodes(root, organizations, collaboration, paths, env)
        return organizations, collaboration, paths

    def researcher(self) -> Client:
        """A logged-in session of the demo's researcher (with its key when encrypted)."""
        client = self._login(RESEARCHER, self.researcher_password)
        if self.options.encrypted:
            client.setup_encryption(self._key_path(1))  # the researcher's organization
        return client

    def _child_env(self) -> dict[str, str]:
        env = {"XDG_DATA_HOME": str(self.workdir / "xdg"), "PYTHONUNBUFFERED": "1"}
        if self.options.runtime == "docker":
            return env  # the algorithm is in its image, not on the nodes' path
        example = average_example_path()
        if example is not None:
            existing = os.environ.get("PYTHONPATH")
            env["PYTHONPATH"] = str(example) + (os.pathsep + existing if existing else "")
        return env

    def _check_packages(self) -> None:
        """Say which extra is missing before anything starts, rather than let the server
        or a node die on an import in its log (an environment with only ``v6lib`` or
        ``v6lib[cli]``)."""
        wanted = [*_SERVER_MODULES, *(("docker", "node"),) * (self.options.runtime == "docker")]
        missing = [(module, extra) for module, extra in wanted
                   if importlib.util.find_spec(module) is None]
        if missing:
            extras = ",".join(sorted({extra for _, extra in missing}))
            raise ConfigurationError(
                f"the federation's server and nodes run from this environment, which lacks "
                f"{', '.join(module for module, _ in missing)} (v6lib[{extras}]): install "
                f"v6lib with the algorithm extra, which brings them (`pip install "
                f"\"/path/to/v6lib-<version>-py3-none-any.whl[algorithm]\"`)")

    def _check_runtime(self) -> None:
        if self.options.runtime != "docker":
            return
        docker = shutil.which("docker")
        if docker is None or subprocess.run([docker, "info"], capture_output=True,
                                            check=False).returncode != 0:
            raise RuntimeUnavailableError(
                "--runtime docker needs a running Docker engine (`docker info` failed); "
                "start one or use the default process runtime")
        image = self.options.image
        if subprocess.run([docker, "image", "inspect", image], capture_output=True,
                          check=False).returncode != 0:
            how = ("build it (and its base image v6lib-base) with `bash .ci/images.sh`, or "
                   "use the default process runtime") if image == IMAGE else (
                   "build it with `v6 algorithm build --tag IMAGE` in its package's folder")
            raise RuntimeUnavailableError(f"image {image} is not built; {how}")

    def _start_server(self, env: dict[str, str]) -> None:
        path = self._write_yaml(self.workdir / "server" / "server.yaml", self.server_config())
        # NOTE: started as an operator would (`v6 server start`): gunicorn, migrations
        # once in the master, two workers sharing events through the database.
        self.server = ManagedProcess(
            "server", [*V6, "server", "start", "--attach", str(path)],
            self.workdir / "logs" / "server.log", env=env, cwd=self.workdir,
            # NOTE: a throw-away server need not wait for long-polls of stopped nodes
            # to expire; SQLite in WAL mode survives the SIGKILL that may follow.
            stop_signal=signal.SIGINT, stop_grace=3.0)
        started = time.monotonic()
        self.server.start()
        url = f"http://127.0.0.1:{self.port}/api/health"
        wait_until(lambda: http_ok(url), 60.0, f"server at {url}", watch=[self.server])
        self.timings["server_start"] = time.monotonic() - started
        self.echo(f"  server     http://127.0.0.1:{self.port}/api  ready in "
                  f"{self.timings['server_start']:.1f} s")

    def _login(self, username: str, password: str) -> Client:
        # NOTE: a throw-away federation gets fresh keys every time: its pins stay with it
        client = Client("http://127.0.0.1", self.port, "/api",
                        trust_file=self.workdir / "trusted-keys.json")
        client.authenticate(username, password)
        return client

    def _key_path(self, number: int) -> Path:
        return self.workdir / f"demo-node-{number}" / "private_key.pem"

    def _public_key(self, number: int) -> str | None:
        """With ``encrypted``: a fresh key pair per organization, the private half on disk."""
        if not self.options.encrypted:
            return None
        # NOTE: 2048 bits keeps the demo quick; real organizations use the 3072 default.
        key = generate_private_key(2048)
        save_private_key(key, self._key_path(number))
        return public_key_b64(key)

    def _provision(self, root: Client) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        organizations = [root.organization.create(
            name=site.name, address1=site.city, country=site.country,
            domain=f"site{n}.demo.invalid", public_key=self._public_key(n))
            for n, site in enumerate(SITES, start=1)]
        org_ids = [int(org["id"]) for org in organizations]
        collaboration = root.collaboration.create("demo federation", org_ids,
                                                  encrypted=self.options.encrypted)
        roles = root.role.list(all_pages=True)
        researcher_role = [r["id"] for r in roles if r.get("name") == "Researcher"]
        root.user.create(username=RESEARCHER, password=self.researcher_password,
                         organization=org_ids[0], roles=researcher_role,
                         firstname="Demo", lastname="Researcher")
        kind = "encrypted collaboration" if self.options.encrypted else "collaboration"
        self.echo(f"  created    {len(org_ids)} organizations, {kind} "
                  f"{collaboration['id']} ('demo federation'), user '{RESEARCHER}'")
        return organizations, collaboration

    def _start_nodes(self, root: Client, organizations: list[dict[str, Any]],
                     collaboration: dict[str, Any], paths: list[Path],
                     env: dict[str, str]) -> None:
        started = time.monotonic()
        for number, (org, data) in enumerate(zip(organizations, paths, strict=True), start=1):
            name = f"demo-node-{number}"
            api_key = root.node.create(collaboration=int(collaboration["id"]),
                                       organization=int(org["id"]), name=name)
            path = self._write_yaml(self.workdir / name / "node.yaml",
                                    self.node_config(number, api_key, data))
            node = ManagedProcess(
                name, [*V6, "node", "start", "--attach", "--config", str(path)],
                self.workdir / "logs" / f"{name}.log", env=env, cwd=self.workdir)
            node.start()
            self.nodes.append(node)
        collaboration_id = int(collaboration["id"])

        def online() -> bool:
            nodes = root.node.list(collaboration=collaboration_id, all_pages=True)
            return len(nodes) == len(self.nodes) and all(
                n.get("status") == "online" for n in nodes)

        watch = [p for p in [*self.nodes, self.server] if p is not None]
        wait_until(online, 60.0, "nodes", watch=watch, pause=0.2)
        self.timings["nodes_ready"] = time.monotonic() - started
        self.echo(f"  nodes      {len(self.nodes)} online ({self.options.runtime} runtime) in "
                  f"{self.timings['nodes_ready']:.1f} s")

    def _run_task(self, organizations: list[dict[str, Any]], collaboration: dict[str, Any],
                  paths: list[Path]) -> DemoReport:
        column = self.options.column
        client = self.researcher()
        started = time.monotonic()
        task = client.task.create(
            collaboration=int(collaboration["id"]), organizations=[int(organizations[0]["id"])],
            name="demo average", image=IMAGE, description=f"federated mean of {column!r}",
            input_={"method": "central_average", "kwargs": {"column": column}})
        self.echo(f"  task       {task['id']}: central_average(column={column!r}) on {IMAGE}")
        results = client.wait_for_results(int(task["id"]), timeout=self.options.timeout)
        self.timings["task_round_trip"] = time.monotonic() - started
        federated = float(results[0]["average"])
        central, count = central_mean(paths, column)
        report = DemoReport(
            workdir=self.workdir, port=self.port, task_id=int(task["id"]),
            federated=federated, central=central, count=count, timings=dict(self.timings),
            researcher_password=self.researcher_password, root_password=self.root_password,
            collaboration_id=int(collaboration["id"]),
            organization_ids=[int(o["id"]) for o in organizations],
            pids=self.pids())
        return report

    def pids(self) -> dict[str, int]:
        """Process id of the server and each node, by name (to stop a kept federation)."""
        return {p.name: p.pid for p in [self.server, *self.nodes] if p and p.pid}

    # ------------------------------------------------------------------ configs
    def server_config(self) -> dict[str, Any]:
        """The server's YAML configuration: SQLite in the demo directory."""
        return {
            "name": "demo-server", "host": "127.0.0.1", "port": self.port, "api_path": "/api",
            "uri": f"sqlite:///{self.workdir / 'server' / 'server.sqlite'}",
            "root_username": "root", "root_password": self.root_password,
            # the token-signing key stays with the demo and goes when it is deleted
            "jwt_secret_file": str(self.workdir / "server" / "jwt_secret.key"),
            # Long polls (nodes, waiting clients) each hold a thread.
            "workers": 2, "threads": 16, "logging": {"level": "INFO"},
        }

    def node_config(self, number: int, api_key: str, data: Path) -> dict[str, Any]:
        """Node ``number``'s YAML configuration: its data file as ``default`` (the demo's
        CSV, or a file of ``data`` whose type the suffix says), the one image allowed."""
        name = f"demo-node-{number}"
        encryption: dict[str, Any] = {"enabled": self.options.encrypted}
        if self.options.encrypted:
            encryption["private_key"] = str(self._key_path(number))
        return {
            "name": name, "api_key": api_key, "server_url": "http://127.0.0.1",
            "port": self.port, "api_path": "/api",
            "task_dir": str(self.workdir / name / "tasks"),
            "databases": {"default": {"uri": str(data)} if self.options.data
                          else {"uri": str(data), "type": "csv"}},
            "runtime": self.options.runtime, "proxy_port": free_port(),
            "policies": {"allowed_images": [re.escape(self.options.image)]},
            "encryption": encryption,
            "logging": {"level": "INFO"},
        }

    # ------------------------------------------------------------------ helpers
    def _write_yaml(self, path: Path, data: dict[str, Any]) -> Path:
        write_private(path, yaml.safe_dump(data, sort_keys=False))  # a password or API key
        return path

    def stop(self) -> None:
        """Stop every process the demo started and delete its directory."""
        # Nodes first (they would otherwise retry against a vanishing server), in parallel.
        with ThreadPoolExecutor(max_workers=max(1, len(self.nodes))) as pool:
            list(pool.map(ManagedProcess.stop, self.nodes))
        if self.server is not None:
            self.server.stop()
        if self.options.workdir is None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.workdir)
