"""Shared pieces of the end-to-end tests: a real server, real nodes, a scenario algorithm.

* :class:`LiveServer`: the real WSGI app in a thread on 127.0.0.1; it can be stopped and
  started again on the same port and database (an outage, a restart).
* :class:`Relay`: a TCP relay between nodes and server that a test can cut and restore,
  to cut the node's link while the server stays reachable for the researcher.
* :func:`make_federation`: organizations, a collaboration and node API keys.
* :class:`ThreadNode` (a :class:`~v6lib.node.daemon.Node` in a thread) and
  :class:`CliNode` (``v6 node start --config`` in a subprocess that a test may SIGKILL).
* The ``v6_scenario`` algorithm package: written into a temporary directory, imported by
  the process runtime through ``PYTHONPATH`` and baked into the ``v6-scenario:test``
  Docker image (built on top of the base image) for Docker tests.
* The ``v6_statistics`` algorithm package (``algorithms/``): imported the same way, and
  baked into ``v6-statistics:test``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from v6lib.client import Client
from v6lib.config import ServerConfig
from v6lib.node.daemon import Node
from v6lib.node.options import NodeOptions
from v6lib.node.retry import Backoff
from v6lib.node.runtime.base import ContainerRuntime, JobDatabase

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # makes ``tests.docker_support`` importable
    sys.path.insert(0, str(ROOT))

from tests.docker_support import docker_client  # noqa: E402  (the session fixture)

__all__ = ["docker_client"]

ROOT_PASSWORD = "Root-password-1"
ADMIN_PASSWORD = "Fed-admin-pass-1!"
JWT_SECRET = "k" * 40
AVERAGE_DIR = ROOT / "examples" / "average"
DATA = AVERAGE_DIR / "data"
SITES = (DATA / "site_a.csv", DATA / "site_b.csv", DATA / "site_c.csv")
SCENARIO_IMAGE = "v6-scenario:test"
AVERAGE_IMAGE = "v6-average:latest"
ALGORITHMS_DIR = Path(__file__).resolve().parent / "algorithms"
STATISTICS_IMAGE = "v6-statistics:test"
#: ``v6`` of this checkout (the installed ``v6`` script may import another checkout)
V6 = [sys.executable, "-c", "from v6lib.cli import main; main()"]
#: the images the test nodes accept
ALLOWED_IMAGES = (r"v6-scenario:.*", r"v6-average:.*", r"v6-statistics:.*")
FAST_BACKOFF = Backoff(base=0.1, max_delay=1.0)

# The algorithm the scenarios run. Every execution appends lines to ``<marker>.<org id>``
# (a host file for the process runtime), so a test can count how often a run executed.
SCENARIO_SOURCE = '''"""Algorithm for the end-to-end scenarios: sleep, crash, fan out."""

from __future__ import annotations

import os
import time
from typing import Any

from v6lib.wrappers import algorithm_client, data, progress


def _mark(marker: str | None, text: str) -> None:
    """Append to ``<marker>.<organization id>`` (one file per organization)."""
    if marker:
        org = os.environ.get("V6_SCENARIO_ORG", "0")
        with open(f"{marker}.{org}", "a", encoding="utf-8") as fh:
            fh.write(text + "\\n")


def sleep_echo(seconds: float, value: Any, marker: str | None = None) -> dict[str, Any]:
    """Sleep, then echo the value; one marker line when it starts and one when done."""
    _mark(marker, "started")
    time.sleep(float(seconds))
    _mark(marker, "finished")
    return {"echo": value, "slept": seconds}


def crash_at(organization: int, value: Any, marker: str | None = None) -> dict[str, Any]:
    """Die with exit code 3 at one organization (after a line on stdout), echo elsewhere."""
    _mark(marker, "started")
    me = int(os.environ.get("V6_SCENARIO_ORG", "0"))
    if me == organization:
        print(f"scenario: organization {me} crashes on purpose", flush=True)
        os._exit(3)
    return {"echo": value, "organization": me}


def count_up(steps: int, seconds: float) -> int:
    """Report progress ``steps`` times (``step i/steps``), ``seconds`` apart."""
    for i in range(1, int(steps) + 1):
        time.sleep(float(seconds))
        progress(i / int(steps), f"step {i}/{steps}")
    time.sleep(float(seconds))
    return int(steps)


@data(1)
def crosstab(df: Any, rows: str, columns: str, suppress: int = 0) -> Any:
    """A typed count table of the node's data, small cells suppressed when asked."""
    from v6lib.wrappers.aggregates import count_table, suppress_small_cells

    table = count_table(df, rows, columns)
    return suppress_small_cells(table, int(suppress)) if suppress else table


def fail(message: str) -> None:
    """Raise, so the log holds a traceback (what the node may withhold)."""
    raise ValueError(message)


@data(1)
def rows(df: Any) -> Any:
    """Row-level data: what a disclosure policy keeps at the node."""
    return df


@algorithm_client
def tree(client: Any, depth: int, seconds: float,
         organizations: list[int] | None = None) -> list[Any]:
    """Fan out ``depth`` levels: children on every organization, grandchildren locally."""
    if depth <= 0:
        time.sleep(float(seconds))
        return []
    orgs = organizations or [org["id"] for org in client.organization.list()]
    task = client.task.create(
        input_={"method": "tree",
                "kwargs": {"depth": depth - 1, "seconds": seconds,
                           "organizations": [client.organization_id]}},
        organizations=orgs, name=f"tree depth {depth - 1}")
    return client.wait_for_results(task["id"])
'''


def checkout_env(**extra: str) -> dict[str, str]:
    """This process's environment with this checkout first on ``PYTHONPATH``."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


# --------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The real app in a thread, served as ``v6 server start`` serves it (held long-polls
    on an event loop); ``stop``/``start`` keep the port and the database."""

    def __init__(self, db_path: Path, *, secret: str = JWT_SECRET, **config: Any) -> None:
        self.db_path = db_path
        self.secret = secret
        self.config = config
        self.port = free_port()
        self.app: Any = None
        self._serving: contextlib.ExitStack | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> LiveServer:
        from v6lib.server.app import create_app
        from v6lib.server.auth.passwords import TEST_COST
        from v6lib.testing.http_server import serve_event_loop

        config = ServerConfig(uri=f"sqlite:///{self.db_path}", root_password=ROOT_PASSWORD,
                              jwt_secret_key=self.secret, **self.config)
        self.app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None,
                              event_loop=True)
        self._serving = contextlib.ExitStack()
        self._serving.enter_context(serve_event_loop(self.app, port=self.port))
        return self

    def stop(self) -> None:
        if self._serving is None:
            return
        self._serving.close()  # wakes held long-polls, then stops serving
        self.app.v6_state.engine.dispose()
        self._serving = None

    def root(self) -> Client:
        client = Client("http://127.0.0.1", self.port, "/api")
        client.authenticate("root", ROOT_PASSWORD)
        return client


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server shared by the tests of one module."""
    server = LiveServer(tmp_path_factory.mktemp("server") / "server.sqlite").start()
    try:
        yield server
    finally:
        server.stop()


class Relay:
    """A TCP relay ``127.0.0.1:port -> upstream``; :meth:`cut` refuses and drops traffic."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and reset the open ones (a dead link)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# --------------------------------------------------------------------------- algorithm
@pytest.fixture(scope="session")
def scenario_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the ``v6_scenario`` package (put it on ``PYTHONPATH``)."""
    base = tmp_path_factory.mktemp("algorithms")
    package = base / "v6_scenario"
    package.mkdir()
    (package / "__init__.py").write_text(SCENARIO_SOURCE)
    return base


def algorithm_path(scenario_package: Path) -> str:
    """``PYTHONPATH`` for process-runtime algorithms: the scenario, average and statistics
    packages, and the v6lib of this checkout (not whichever one is installed)."""
    return os.pathsep.join([str(scenario_package), str(AVERAGE_DIR), str(ALGORITHMS_DIR),
                            str(ROOT)])


@pytest.fixture(scope="session")
def scenario_image(scenario_package: Path, docker_client: Any) -> str:
    """``v6-scenario:test``: v6lib-base plus the scenario package (rebuilt per session)."""
    from tests.docker_support import build_wrapper_image

    return build_wrapper_image(docker_client, scenario_package, "v6_scenario",
                               SCENARIO_IMAGE)


@pytest.fixture(scope="session")
def statistics_image(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> str:
    """``v6-statistics:test``: the base image plus ``v6_statistics`` (rebuilt per session)."""
    import shutil

    from tests.docker_support import build_wrapper_image

    context = tmp_path_factory.mktemp("statistics-image")
    shutil.copytree(ALGORITHMS_DIR / "v6_statistics", context / "v6_statistics",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return build_wrapper_image(docker_client, context, "v6_statistics", STATISTICS_IMAGE)


# --------------------------------------------------------------------------- federation
@dataclass
class Federation:
    """A collaboration of organizations with one node (API key) each.

    ``root`` is an administrator with the Root role in the first organization: the
    server only takes tasks from a member of the collaboration, which root's own
    organization is not.
    """

    server: LiveServer
    root: Client
    collaboration: int
    org_ids: list[int]
    api_keys: list[str]
    names: list[str]
    admin: str = ""
    nodes: list[Any] = field(default_factory=list)
    connect: Callable[[], Client] | None = None
    """Makes the client of :meth:`login` (default: plain HTTP to ``server``), e.g. one
    that goes through a reverse proxy."""

    def login(self) -> Client:
        """A fresh session for the federation's administrator (e.g. after a restart)."""
        client = self.connect() if self.connect is not None else \
            Client("http://127.0.0.1", self.server.port, "/api")
        client.authenticate(self.admin, ADMIN_PASSWORD)
        return client

    def stop_nodes(self) -> None:
        for node in self.nodes:  # all at once: each may sit in a long-poll
            if isinstance(node, ThreadNode):
                node.node.stop()
        for node in self.nodes:
            node.stop()


def make_federation(server: LiveServer, size: int = 3, *, encrypted: bool = False,
                    prefix: str = "fed",
                    connect: Callable[[], Client] | None = None) -> Federation:
    root = server.root()
    suffix = uuid.uuid4().hex[:6]
    orgs = [root.organization.create(name=f"{prefix} org {i} {suffix}")["id"]
            for i in range(size)]
    collab = root.collaboration.create(f"{prefix} {suffix}", orgs, encrypted=encrypted)["id"]
    names = [f"{prefix}-{i}-{suffix}" for i in range(size)]
    keys = [root.node.create(collaboration=collab, organization=org, name=name)
            for org, name in zip(orgs, names, strict=True)]
    root_role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Root"]
    admin = f"{prefix}-admin-{suffix}"
    root.user.create(username=admin, password=ADMIN_PASSWORD, organization=orgs[0],
                     roles=root_role)
    fed = Federation(server, root, collab, orgs, keys, names, admin=admin, connect=connect)
    fed.root = fed.login()
    return fed


def node_options(fed: Federation, index: int, task_dir: Path, *, scenario_package: Path,
                 url: str | None = None, **overrides: Any) -> NodeOptions:
    """Process-runtime options for node ``index`` reading ``SITES[index % 3]``."""
    base: dict[str, Any] = {
        "name": fed.names[index], "api_key": fed.api_keys[index],
        "server_api_url": url or fed.server.url, "task_dir": task_dir,
        "databases": {"default": JobDatabase("default", str(SITES[index % 3]), "csv")},
        "runtime": "process",
        "allowed_images": ALLOWED_IMAGES,
        "algorithm_env": {"PYTHONPATH": algorithm_path(scenario_package),
                          "V6_SCENARIO_ORG": str(fed.org_ids[index])},
        "event_timeout": 2.0, "sweep_interval": 5.0,
    }
    base.update(overrides)
    return NodeOptions(**base)


class ThreadNode:
    """A :class:`Node` whose event loop runs in a thread of the test process."""

    def __init__(self, options: NodeOptions, runtime: ContainerRuntime | None = None,
                 backoff: Backoff = FAST_BACKOFF) -> None:
        self.options = options
        self.node = Node(options, runtime=runtime, backoff=backoff)
        self._closed = False
        self.node.start()
        self.thread = threading.Thread(target=self.node.run_forever, daemon=True,
                                       name=f"node-{options.name}")
        self.thread.start()

    @property
    def runtime(self) -> ContainerRuntime:
        return self.node.runtime

    def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.node.stop()
        self.thread.join(15)
        self.node.close()


@contextlib.contextmanager
def docker_nodes(fed: Federation, options: list[NodeOptions],
                 docker_client: Any) -> Iterator[Federation]:
    """One :class:`ThreadNode` with the Docker runtime per ``options`` in ``fed``; at the
    end they stop and must have left no container behind."""
    from tests.docker_support import BASE_IMAGE, cleanup_node
    from v6lib.node.runtime.docker import DockerRuntime

    for node_options_ in options:
        runtime = DockerRuntime(node_options_.name, check_image=BASE_IMAGE)
        fed.nodes.append(ThreadNode(node_options_, runtime=runtime))
    try:
        yield fed
    finally:
        fed.stop_nodes()
        leftovers = [cleanup_node(docker_client, node.runtime) for node in fed.nodes]
        assert leftovers == [[] for _ in fed.nodes]


class CliNode:
    """``v6 node start --config <file>`` as a subprocess (the real daemon entry point)."""

    def __init__(self, config: dict[str, Any], path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.config = config
        self.path = path
        self.env = env or checkout_env()
        path.write_text(yaml.safe_dump(config))
        self.log_file = Path(config["task_dir"]) / "node.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CliNode:
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen([*V6, "node", "start", "--attach", "--config",
                                             str(self.path)], stdout=log, env=self.env,
                                            stderr=subprocess.STDOUT, cwd=self.path.parent)
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as if the machine died."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def cli_node_config(fed: Federation, index: int, task_dir: Path, *, scenario_package: Path,
                    **overrides: Any) -> dict[str, Any]:
    """A node YAML config (process runtime) for node ``index``."""
    task_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "name": fed.names[index], "api_key": fed.api_keys[index],
        "server_url": "http://127.0.0.1", "port": fed.server.port, "api_path": "/api",
        "task_dir": str(task_dir), "runtime": "process",
        "databases": {"default": {"uri": str(SITES[index % 3]), "type": "csv"}},
        "policies": {"allowed_images": list(ALLOWED_IMAGES)},
        "algorithm_env": {"PYTHONPATH": algorithm_path(scenario_package),
                          "V6_SCENARIO_ORG": str(fed.org_ids[index])},
        "logging": {"level": "INFO", "use_console": True},
    }
    config.update(overrides)
    return config


# --------------------------------------------------------------------------- waiting
def wait_until(condition: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.1) -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def run_statuses(root: Client, task_id: int) -> list[str]:
    return [r["status"] for r in root.run.from_task(task_id)]


def wait_statuses(root: Client, task_id: int, wanted: set[str], timeout: float) -> list[str]:
    """Wait until every run of the task has a status in ``wanted``."""
    def done() -> list[str] | None:
        statuses = run_statuses(root, task_id)
        return statuses if statuses and all(s in wanted for s in statuses) else None

    try:
        return wait_until(done, timeout, f"runs of task {task_id} to reach {wanted}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; now {run_statuses(root, task_id)}") from None


def marker_lines(marker: Path, organization: int) -> list[str]:
    """What the runs at ``organization`` wrote to ``marker`` (see ``sleep_echo``)."""
    path = marker.with_name(f"{marker.name}.{organization}")
    return path.read_text().splitlines() if path.exists() else []
