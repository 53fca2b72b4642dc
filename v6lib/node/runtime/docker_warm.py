"""Warm containers of the Docker runtime: the later runs of one job at a node share a
container, so an iterative algorithm does not pay a container start per round.

Why: a container per run costs the engine's create and start, an interpreter and the
wrapper's imports (about 1 s on an idle machine, several when the 3 nodes of a
federation start theirs at once on few CPUs), and an iterative algorithm pays it every
round at every node. Here a run of a subtask, or the second run of a job at this node,
starts a container, set up like a run's (:meth:`DockerRuntime.container_options`: no
network, no capabilities, the same user and limits, read-only image, the proxy's socket
and the run's databases mounted read-only), that runs v6lib's warm starter
(:mod:`warm_starter`) instead of the wrapper; it and every later run of the job with the
same image, databases and limits are forked inside it through the warm starter's
protocol, over a Unix socket in the container's folder. A job's first run here that is a
run of its root task keeps a container of its own: most jobs have one run per node, and
they stay as they were.

What the container sees: its folder ``<task_dir>/warm/<job>-<id>/`` (the node's, mode
0711) at ``/v6-warm``, holding ``tmp/`` (TEMPORARY_FOLDER of its runs), ``sock/`` (the
starter's socket) and ``runs/<run>/`` (the node's, 0711) with the run's ``input`` and
``token`` (hard links of the files the node made in ``jobs/``), ``output/`` and
``state/`` (the starter's log, pid and exit files). Only ``tmp``, ``sock``, ``output``
and ``state`` belong to the container's user, so a run can replace nothing the node
wrote. When the run has ended, the node moves ``output/<name>`` to the run's
``OUTPUT_FILE`` in ``jobs/`` (a rename: links are moved, not followed) and reads it from
there as it reads any output (:mod:`v6lib.node.untrusted_files`). Warm containers are
used only when the container's user is not the node's (a node running as root).

What sharing means (see ``docs/operations/docker.md``): the runs of one job at a node
with the same image, databases and limits are processes of one container, so an
algorithm can keep state between its own rounds (files in ``/tmp``, a process it left
running) and its runs can read each other's input and token and write each other's
output and exit files. Runs of different jobs (hence of different researchers) or with
different databases never share a container.

Lifetime: the node closes the starter's socket when no run has been in the container for
:data:`IDLE_SECONDS` (the job's rounds are over), after a run was killed (what it left
behind must not meet a later run), and at node shutdown; the starter then exits once its
last run has ended, and the container with it (``auto_remove``). A node restarted
meanwhile finds its runs in the folders (:meth:`WarmContainers.list_managed`): the
starter records each run's pid before it answers and its exit code when it ends, as in
the process runtime, so a run is neither lost nor started twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import socket
import stat
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from v6lib.errors import ConflictError, NotFoundError, RuntimeUnavailableError
from v6lib.node.runtime import docker_user
from v6lib.node.runtime.base import LABEL_JOB, LABEL_NODE, ExitInfo, JobSpec, ManagedJob
from v6lib.node.runtime.process_files import exit_code, log_tail, run_state
from v6lib.node.runtime.warm_client import WarmStarter
from v6lib.node.runtime.warm_starter import DEFAULT_PRELOAD

if TYPE_CHECKING:
    from v6lib.node.runtime.docker import DockerRuntime

__all__ = ["IDLE_SECONDS", "LABEL_WARM", "WARM_ROOT", "WarmContainers", "is_warm_handle"]

log = logging.getLogger(__name__)

LABEL_WARM = "v6lib.warm"
WARM_ROOT = "/v6-warm"
IDLE_SECONDS = 5.0
BOOT_TIMEOUT = 60.0
COLD_RETRY_SECONDS = 600.0  # after a warm starter did not come up in an image
LOG_LIMIT = 64 * 1024
#: The command of an image whose runs the warm starter can serve (v6lib's wrapper).
WRAPPER_COMMAND = ["python3", "-m", "v6lib.wrappers"]
_PREFIX = "warm:"
_SOCKET = "starter.sock"
# Inside the container: listen on the socket, take the node's one connection, then be
# the warm starter on it (the image's own v6lib.node.runtime.warm_starter).
BOOT = ("import os, socket, sys\n"
        "del sys.path[0]\n"
        "server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "server.bind(sys.argv[1])\n"
        "server.listen(1)\n"
        "conn, _ = server.accept()\n"
        "server.close()\n"
        "os.unlink(sys.argv[1])\n"
        "from v6lib.node.runtime.warm_starter import main\n"
        "main(conn.detach(), sys.argv[2:])\n")
_KILL = "import os, sys\nos.killpg(int(sys.argv[1]), 9)\n"


def is_warm_handle(handle: str) -> bool:
    """Whether a run handle names a run in a warm container (else it is a container id)."""
    return handle.startswith(_PREFIX)


def _parse(handle: str) -> tuple[str, int]:
    folder, _, run_id = handle[len(_PREFIX):].rpartition(":")
    if not folder or "/" in folder or folder.startswith(".") or not run_id.isdigit():
        raise NotFoundError(f"not a warm run handle: {handle!r}")
    return folder, int(run_id)


def _private_dir(path: Path, owner: tuple[int, int] | None, mode: int) -> None:
    path.mkdir(mode=mode)
    os.chmod(path, mode)  # whatever the umask
    if owner is not None:
        os.chown(path, *owner, follow_symlinks=False)


def _remove_tree(path: Path) -> None:
    """Remove a folder a container wrote in (without following its links)."""
    for attempt in range(3):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:  # e.g. a file created meanwhile: try again
            if attempt == 2:
                log.warning("cannot remove %s: %s", path, exc)
            time.sleep(0.05)


def _connect_socket(folder_fd: int, name: str) -> socket.socket | None:
    """Connect to the socket ``name`` in a folder the container writes; None while there
    is none.

    Why through an ``O_PATH`` descriptor: ``connect`` follows links, and the container
    could put a link to any socket of the host (the engine's) in place of its own; the
    descriptor is of the entry itself, checked to be a socket, and the connection is made
    to exactly that inode. It also keeps the address short (a host path may exceed the
    108 bytes of a socket address).
    """
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise RuntimeUnavailableError(f"the warm container left a non-socket {name!r} "
                                          "where its starter listens")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(f"/proc/self/fd/{fd}")
        except OSError:
            sock.close()
            return None
        return sock
    finally:
        os.close(fd)


@dataclass
class _Warm:
    """One warm container: its folder, its starter and the runs it has in flight."""

    key: str
    folder: Path
    name: str
    starter: WarmStarter
    image_env: dict[str, str]
    container_id: str = ""
    active: set[int] = field(default_factory=set)
    retired: bool = False
    timer: threading.Timer | None = None


class WarmContainers:
    """The warm containers of one Docker runtime (thread-safe)."""

    def __init__(self, runtime: DockerRuntime, root: Path, *, idle: float = IDLE_SECONDS,
                 preload: tuple[str, ...] = DEFAULT_PRELOAD) -> None:
        self.runtime = runtime
        self.root = Path(root)
        self.idle = idle
        self.preload = preload
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._jobs: set[int] = set()
        self._warm: dict[str, _Warm] = {}  # by key, only the one taking new runs
        self._by_folder: dict[str, _Warm] = {}
        # image ids whose warm starter did not come up, and when: not tried again soon
        self._cold_images: dict[str, float] = {}

    # -- starting -----------------------------------------------------------------------
    def start(self, spec: JobSpec) -> str | None:
        """Start the run in its job's warm container; None when it takes a container of
        its own (the job's first run here when it is a run of the job's root task, an
        image without v6lib's wrapper, a container that could not be prepared).

        Raises:
            ConflictError: the starter took the run but did not answer: it may be running.
        """
        with self._lock:
            # NOTE: a subtask (its task is not the job's root task) is what a central
            # function creates, round after round: it gets the warm container at once
            alone = spec.job_id not in self._jobs and spec.task_id == spec.job_id
            self._jobs.add(spec.job_id)
        if alone:
            return None
        image = self._wrapper_image(spec.image)
        if image is None:
            return None
        key = self._key(spec, image["v6lib.image_id"])
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            warm = self._container(spec, key, image)
            if warm is None:
                return None
            return self._spawn(warm, spec)

    def _wrapper_image(self, image: str) -> dict[str, str] | None:
        """The image's environment if its command is v6lib's wrapper, else None."""
        import docker.errors

        try:
            details = self.runtime._engine(self.runtime.client.api.inspect_image, image)
        except docker.errors.NotFound:
            return None
        config = details.get("Config") or {}
        command = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
        failed = self._cold_images.get(str(details.get("Id")))
        if command != WRAPPER_COMMAND or (failed is not None
                                          and time.monotonic() - failed < COLD_RETRY_SECONDS):
            return None
        env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
        env["v6lib.image_id"] = str(details.get("Id"))
        return env

    def _key(self, spec: JobSpec, image_id: str) -> str:
        """What runs must share to share a container (the image by its id: a tag pulled
        again between rounds names another image)."""
        material = json.dumps([
            spec.node_name, spec.job_id, spec.image, image_id, spec.cpus, spec.memory,
            sorted(spec.environment.items()),
            sorted((db.label, db.uri, db.type) for db in spec.databases),
        ])
        return hashlib.sha256(material.encode()).hexdigest()

    def _container(self, spec: JobSpec, key: str, image_env: dict[str, str]) -> _Warm | None:
        with self._lock:
            warm = self._warm.get(key)
        if warm is not None and not warm.retired and warm.starter.state == "ready":
            return warm
        if warm is not None:
            self._retire(warm)
        image_id = image_env.pop("v6lib.image_id")
        try:
            warm = self._boot(spec, key, image_env)
        except (RuntimeUnavailableError, OSError) as exc:
            log.warning("run %d: no warm container for job %d (%s); the run gets a "
                        "container of its own", spec.run_id, spec.job_id, exc)
            if isinstance(exc, RuntimeUnavailableError):
                self._cold_images[image_id] = time.monotonic()
            return None
        with self._lock:
            self._warm[key] = warm
            self._by_folder[warm.folder.name] = warm
        return warm

    def _boot(self, spec: JobSpec, key: str, image_env: dict[str, str]) -> _Warm:
        from v6lib.node.runtime.docker import container_paths

        owner = docker_user.container_owner(self.runtime.user)
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        folder_name = f"{spec.job_id}-{uuid.uuid4().hex[:10]}"
        folder = self.root / folder_name
        _private_dir(folder, None, 0o711)
        for name, mode in (("runs", 0o711), ("tmp", 0o700), ("sock", 0o700)):
            _private_dir(folder / name, None if name == "runs" else owner, mode)
        name = self._name(folder_name)
        warm = _Warm(key=key, folder=folder, name=name, image_env=image_env,
                     starter=WarmStarter("python3", self.preload, folder / "starter.log", {}))
        docker_user.hand_over_socket(self.runtime.proxy_socket(), self.runtime.user)
        from docker.types import Mount

        mounts = [Mount(WARM_ROOT, str(folder.resolve()), type="bind", read_only=False),
                  *self.runtime.shared_mounts(spec, container_paths(spec))]
        options = self.runtime.container_options(
            spec, name=name, labels={LABEL_NODE: spec.node_name, LABEL_JOB: str(spec.job_id),
                                     LABEL_WARM: folder_name},
            environment={"HOME": "/tmp", **spec.environment}, mounts=mounts)
        # NOTE: the wrapper imports pandas only to read a database (``@data``); a job
        # without one would pay seconds of imports at the container's start for nothing
        preload = self.preload if spec.databases else ()
        options.update(entrypoint=["python3"], auto_remove=True,
                       command=["-c", BOOT, f"{WARM_ROOT}/sock/{_SOCKET}", *preload])
        client = self.runtime.client
        container = self.runtime._engine(client.containers.create, spec.image, **options)
        warm.container_id = str(container.id)
        try:
            self.runtime._engine(container.start)
            self._connect(warm)
        except (RuntimeUnavailableError, OSError):
            self._end_container(warm)
            raise
        log.info("job %d: warm container %s started from %s", spec.job_id,
                 container.id[:12], spec.image)
        return warm

    def _connect(self, warm: _Warm) -> None:
        """Connect to the starter once it listens, and wait until it has prepared."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        sock_dir = os.open(warm.folder / "sock", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            checked = 0.0
            while True:
                sock = _connect_socket(sock_dir, _SOCKET)
                if sock is not None:
                    break
                now = time.monotonic()
                if now > deadline:
                    raise RuntimeUnavailableError("the warm starter did not listen in time")
                if now - checked > 0.5:
                    checked = now
                    if not self._running(warm):
                        raise RuntimeUnavailableError("the warm container ended at start-up "
                                                      "(an image without v6lib?)")
                time.sleep(0.01)
        finally:
            os.close(sock_dir)
        warm.starter.attach(sock)
        if not warm.starter.ready(BOOT_TIMEOUT):
            raise RuntimeUnavailableError(f"the warm starter did not prepare: "
                                          f"{warm.starter.info.get('error', 'no answer')}")

    def _spawn(self, warm: _Warm, spec: JobSpec) -> str | None:
        from v6lib.node.runtime.docker import container_paths

        run_dir = warm.folder / "runs" / str(spec.run_id)
        if os.path.lexists(run_dir):
            raise ConflictError(f"run {spec.run_id} was already started in warm container "
                                f"{warm.name}; it is not started twice")
        docker_user.hand_over_run_files(spec, self.runtime.user)
        record = {"run_id": spec.run_id, "output_file": str(spec.output_file),
                  "output_name": spec.output_file.name}
        try:
            self._run_folder(run_dir, spec, record)
        except OSError:  # e.g. a full disk: nothing of the run is left for a retry
            _remove_tree(run_dir)
            raise
        inside = f"{WARM_ROOT}/runs/{spec.run_id}"
        paths = {**container_paths(spec), "input": f"{inside}/input",
                 "token": f"{inside}/token", "tmp": f"{WARM_ROOT}/tmp",
                 "output": f"{inside}/output/{spec.output_file.name}"}
        env = {**warm.image_env, "HOSTNAME": warm.container_id[:12],
               **self.runtime.run_environment(spec, paths)}
        with self._lock:
            warm.active.add(spec.run_id)
            if warm.timer is not None:
                warm.timer.cancel()
                warm.timer = None
        state = Path(f"{inside}/state")
        try:
            pid, _ = warm.starter.spawn(env=env, cwd=Path(f"{WARM_ROOT}/tmp"),
                                        log=state / "log", exit_file=state / "exit",
                                        argv=WRAPPER_COMMAND, pid_file=state / "pid")
        except RuntimeUnavailableError as exc:
            log.warning("run %d: warm container %s unusable (%s); the run gets a container "
                        "of its own", spec.run_id, warm.name, exc)
            self._run_done(warm, spec.run_id)
            self._retire(warm)
            _remove_tree(run_dir)
            return None
        except ConflictError:
            self._retire(warm)
            raise
        log.info("run %d: forked (pid %d) in warm container %s", spec.run_id, pid,
                 warm.container_id[:12])
        return f"{_PREFIX}{warm.folder.name}:{spec.run_id}"

    def _run_folder(self, run_dir: Path, spec: JobSpec, record: dict[str, Any]) -> None:
        """The run's folder in the container's: the node's, with links to its files."""
        owner = docker_user.container_owner(self.runtime.user)
        _private_dir(run_dir, None, 0o711)
        for name in ("output", "state"):
            _private_dir(run_dir / name, owner, 0o700)
        for source, target in ((spec.input_file, "input"), (spec.token_file, "token")):
            os.link(source, run_dir / target, follow_symlinks=False)
        (run_dir / "record.json").write_text(json.dumps(record))

    # -- lifetime -----------------------------------------------------------------------
    def _run_done(self, warm: _Warm, run_id: int) -> None:
        with self._lock:
            warm.active.discard(run_id)
            if warm.active or warm.retired or warm.timer is not None:
                return
            warm.timer = threading.Timer(self.idle, self._retire_if_idle, (warm,))
            warm.timer.daemon = True
            warm.timer.start()

    def _retire_if_idle(self, warm: _Warm) -> None:
        with self._lock:
            warm.timer = None
            if warm.active:
                return
        self._retire(warm)

    def _retire(self, warm: _Warm) -> None:
        """Take no more runs; the starter (and the container) end after the last run."""
        with self._lock:
            warm.retired = True
            if self._warm.get(warm.key) is warm:
                del self._warm[warm.key]
            if warm.timer is not None:
                warm.timer.cancel()
                warm.timer = None
        warm.starter.close()

    def _end_container(self, warm: _Warm) -> None:
        warm.starter.close()
        with contextlib.suppress(RuntimeUnavailableError):
            self.runtime.remove(warm.container_id)
        _remove_tree(warm.folder)

    def close(self) -> None:
        """At node shutdown: no more runs; each container ends after its last run."""
        with self._lock:
            every = list(self._by_folder.values())
        for warm in every:
            self._retire(warm)

    # -- watching -----------------------------------------------------------------------
    def _container_state(self, folder: str) -> dict[str, Any] | None:
        """The engine's state of the folder's container; None when it is gone."""
        import docker.errors

        try:
            details = self.runtime._engine(self.runtime.client.api.inspect_container,
                                           self._name(folder))
        except docker.errors.NotFound:
            return None
        return dict(details.get("State") or {})

    def _name(self, folder: str) -> str:
        from v6lib.node.runtime.docker import _slug

        return f"v6-{_slug(self.runtime.node_name)}-warm-{folder}"

    def _running(self, warm: _Warm) -> bool:
        state = self._container_state(warm.folder.name)
        return state is not None and state.get("Status") in ("created", "running")

    def _run_dir(self, handle: str) -> tuple[str, int, Path]:
        folder, run_id = _parse(handle)
        return folder, run_id, self.root / folder / "runs" / str(run_id)

    def wait(self, handle: str, timeout: float | None = None) -> ExitInfo | None:
        """Block until the run's exit file appears (or its container ended)."""
        folder, run_id, run_dir = self._run_dir(handle)
        if not run_dir.is_dir():
            raise NotFoundError(f"no warm run {handle!r} on this node")
        exit_file = run_dir / "state" / "exit"
        deadline = None if timeout is None else time.monotonic() + timeout
        pause, checked, ended = 0.002, -math.inf, False
        while not self._has_code(exit_file):
            now = time.monotonic()
            if ended:
                break
            if now - checked > 0.5:
                checked = now
                state = self._container_state(folder)
                # one more look at the exit file after the container ended
                ended = state is None or state.get("Status") not in ("created", "running")
                continue
            if deadline is not None and now >= deadline:
                return None
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - now)))
            pause = min(pause * 1.5, 0.02)
        return self._finished(folder, run_id, run_dir)

    def _has_code(self, exit_file: Path) -> bool:
        """Whether the run's exit file holds its code: the starter creates the file and
        then writes the code into it (in place), so the file alone is not enough."""
        return exit_file.exists() and exit_code(exit_file, self.runtime.output_owner()) is not None

    def _finished(self, folder: str, run_id: int, run_dir: Path) -> ExitInfo:
        owner = self.runtime.output_owner()
        code = exit_code(run_dir / "state" / "exit", owner)
        logs = log_tail(run_dir / "state" / "log", LOG_LIMIT, owner)
        if code is None:
            code = -1
            logs += "\n[v6lib: the warm container ended before the run did]\n"
        record = run_state(run_dir / "record.json")
        if record is not None:
            source = run_dir / "output" / str(record.get("output_name", "output"))
            target = Path(str(record.get("output_file")))
            if os.path.lexists(source) and not os.path.lexists(target) \
                    and target.parent.is_dir():
                with contextlib.suppress(OSError):
                    os.replace(source, target)  # a rename: a link is moved, not followed
        warm = self._by_folder.get(folder)
        if warm is not None:
            self._run_done(warm, run_id)
        return ExitInfo(exit_code=code, logs=logs)

    def kill(self, handle: str) -> None:
        """Kill the run's process group inside its container; the container takes no
        more runs (what the run left behind must not meet a later one)."""
        folder, _, run_dir = self._run_dir(handle)
        warm = self._by_folder.get(folder)
        if warm is not None:
            self._retire(warm)
        exit_file = run_dir / "state" / "exit"
        record = run_state(run_dir / "state" / "pid", self.runtime.output_owner())
        if self._has_code(exit_file) or record is None or not isinstance(record.get("pid"), int):
            return
        state = self._container_state(folder)
        if state is None or state.get("Status") != "running":
            return
        api = self.runtime.client.api
        with contextlib.suppress(RuntimeUnavailableError):
            started = self.runtime._engine(
                api.exec_create, self._name(folder), ["python3", "-c", _KILL, str(record["pid"])],
                user=self.runtime.user)
            self.runtime._engine(api.exec_start, started["Id"])
        deadline = time.monotonic() + 2.0
        while not self._has_code(exit_file) and time.monotonic() < deadline:
            time.sleep(0.01)

    def remove(self, handle: str) -> None:
        """Kill the run if it still runs and remove its folder; idempotent."""
        folder, run_id, run_dir = self._run_dir(handle)
        if not run_dir.exists():
            return
        if not self._has_code(run_dir / "state" / "exit"):
            self.kill(handle)
        warm = self._by_folder.get(folder)
        if warm is not None:
            with self._lock:
                warm.active.discard(run_id)
        _remove_tree(run_dir)
        self._forget_if_gone(folder)

    def _forget_if_gone(self, folder: str) -> None:
        """Remove a warm folder whose container has ended and whose runs are removed."""
        path = self.root / folder
        with contextlib.suppress(OSError):
            if any((path / "runs").iterdir()):
                return
        if self._container_state(folder) is not None:
            return
        with self._lock:
            self._by_folder.pop(folder, None)
        _remove_tree(path)

    def list_managed(self) -> list[ManagedJob]:
        """Runs in warm containers, from their folders (also those of an earlier life)."""
        if not self.root.is_dir():
            return []
        jobs: list[ManagedJob] = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()
                             and not p.is_symlink()):
            state = self._container_state(folder.name)
            alive = state is not None and state.get("Status") in ("created", "running")
            # NOTE: a run is the starter's once it recorded its pid (before answering the
            # node); one without that record never started and is started again
            runs = [p for p in (folder / "runs").glob("*") if p.name.isdigit()
                    and ((p / "state" / "pid").exists() or (p / "state" / "exit").exists())]
            if not runs and not alive:
                self._forget_if_gone(folder.name)
            for run_dir in runs:
                running = alive and not self._has_code(run_dir / "state" / "exit")
                jobs.append(ManagedJob(handle=f"{_PREFIX}{folder.name}:{run_dir.name}",
                                       run_id=int(run_dir.name), running=running))
        return jobs

