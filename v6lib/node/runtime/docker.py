"""The Docker container runtime: algorithms in locked-down containers without a network.

Why these choices: a container sees only its own files (input and token read-only, its
output folder, the job's temporary folder, data read-only) and the node proxy's Unix
socket, its one way out: it has no network interface but loopback (see
:mod:`docker_isolation`). Every image starts through v6lib's launcher, which relays
``HOST:PORT`` on that loopback to the socket and then runs the image's own command
(:mod:`docker_launch`), so images built for vantage6 reach the proxy unchanged. It
runs without capabilities, without privilege escalation, as an unprivileged user, on a
read-only root file system, with CPU, memory and process limits. Everything it starts
carries the node's labels so a restarted node finds its runs again.
"""

from __future__ import annotations

import collections
import logging
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from v6lib.errors import ConflictError, NotFoundError, RuntimeUnavailableError
from v6lib.node.relays import RunRelays, open_relays
from v6lib.node.runtime import docker_isolation as iso
from v6lib.node.runtime import docker_user
from v6lib.node.runtime.base import (
    LABEL_JOB,
    LABEL_NODE,
    LABEL_RUN,
    LABEL_TASK,
    ExitInfo,
    JobDatabase,
    JobSpec,
    ManagedJob,
)
from v6lib.node.runtime.docker_images import ensure_image, registry_entry
from v6lib.node.runtime.docker_launch import launch_command, launch_mounts, start_problem
from v6lib.node.runtime.docker_services import service_addresses
from v6lib.node.runtime.docker_warm import WarmContainers, is_warm_handle
from v6lib.node.ssh_tunnels import SshTunnels
from v6lib.rules.network_access import Allowlist
from v6lib.wrappers.contract import contract_environment

__all__ = ["CONTAINER_PROXY_PORT", "LOG_LIMIT", "PROXY_DIR", "DockerRuntime", "container_paths"]

log = logging.getLogger(__name__)

LOG_LIMIT = 64 * 1024
_RUNNING = {"created", "running", "restarting", "paused"}
PROXY_DIR = "/mnt/proxy"
PROXY_SOCKET_NAME = "proxy.sock"
PROXY_SOCKET = f"{PROXY_DIR}/{PROXY_SOCKET_NAME}"
#: Where a run's own relay sockets appear (see :mod:`v6lib.node.relays`).
RELAY_DIR = "/mnt/relays"
#: PORT inside the container when the node gives none: the wrapper's relay listens on
#: the container's own loopback interface (the node's proxy listens on no TCP port).
CONTAINER_PROXY_PORT = 7654


def _slug(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", name).strip("-.") or "node"


def bind_mount(spec: JobSpec, target: str, source: Path, read_only: bool) -> Any:
    """A bind mount of a host path the node made (or was configured with) for the run."""
    from docker.types import Mount

    # NOTE: resolve() follows links; the run's own files and folders are the node's
    # (in folders no container sees) and hand_over_run_files refuses a link among
    # them before any container is created.
    if not source.exists():
        raise RuntimeUnavailableError(
            f"run {spec.run_id}: {source} does not exist on node {spec.node_name!r}")
    return Mount(target, str(source.resolve()), type="bind", read_only=read_only)


def container_paths(spec: JobSpec) -> dict[str, str]:
    """Where the run's files appear inside the container (the contract's values)."""
    paths = {
        "input": "/mnt/input",
        "token": "/mnt/token",
        "output": str(PurePosixPath("/mnt/output") / spec.output_file.name),
        "tmp": "/mnt/tmp",
        "proxy": PROXY_SOCKET,
    }
    for db in spec.databases:
        if db.is_file:
            host = Path(db.uri)
            target = PurePosixPath("/mnt/data") / _slug(db.label)
            paths[f"db:{db.label}"] = str(target if host.is_dir() else target / host.name)
    return paths


class DockerRuntime:
    """Runs algorithm containers for one node through the Docker engine.

    Args:
        node_name: the node's name (labels, network and container names).
        client: a ``docker.DockerClient``; ``docker.from_env()`` when omitted.
        proxy_socket_dir: host directory of the node proxy's Unix socket, mounted into
            every container (the node's ``<task_dir>/proxy``; a per-node directory under
            the system's temporary directory when omitted).
        registries: logins (mappings or config objects with ``registry``, ``username``,
            ``password``) an absent image may be pulled from; images of other registries
            are never pulled.
        cpus, memory: default limits (``JobSpec`` values win), e.g. ``1.5`` and ``"2g"``.
        pids_limit: most processes/threads a run may have.
        read_only_root: mount the image read-only (``/tmp`` is a tmpfs).
        user: container user; by default ``nobody`` when the node runs as root (the
            run's files are handed to it), else the node's own uid:gid.
        check_image: a local image with ``python3`` for the isolation self-check.
        gpus: give every container all of the host's GPUs (vantage6's
            ``algorithm_device_requests: {gpu: true}``).
        always_pull: pull the image before every run; a failed pull refuses the run.
        allowlist: vantage6's ``whitelist`` (domains, ips, ports) served to every run
            through the node's allowlisting HTTP proxy.
        services: ``docker_services``: a name algorithms use -> the name of a running
            container, reached at its address on its Docker network.
        relay_dir: where each run's relay sockets are made (the node's
            ``<task_dir>/relays``).
        network_databases: the node's databases, for the isolation check to prove each
            network one reachable through a relay and not directly.
        tunnels: the node's ``ssh_tunnels`` (opened on first use, closed with the
            runtime).
        warm_dir: where warm containers keep their runs' files
            (:mod:`v6lib.node.runtime.docker_warm`: later runs of a job share one
            container); None runs every run in a container of its own.
    """

    name = "docker"
    isolated = True

    def __init__(
        self,
        node_name: str,
        *,
        client: Any = None,
        proxy_socket_dir: Path | None = None,
        registries: Sequence[Mapping[str, str]] = (),
        cpus: float | None = None,
        memory: str | None = None,
        pids_limit: int = 512,
        read_only_root: bool = True,
        user: str | None = None,
        check_image: str = "v6lib-base:latest",
        gpus: bool = False,
        always_pull: bool = False,
        allowlist: Allowlist | None = None,
        services: Mapping[str, str] | None = None,
        relay_dir: Path | None = None,
        network_databases: Sequence[JobDatabase] = (),
        tunnels: SshTunnels | None = None,
        warm_dir: Path | None = None,
    ) -> None:
        self.node_name = node_name
        self.proxy_socket_dir = Path(proxy_socket_dir) if proxy_socket_dir else (
            Path(tempfile.gettempdir()) / f"v6-{_slug(node_name)}-proxy")
        self.registries = [registry_entry(r) for r in registries]
        self.cpus, self.memory, self.pids_limit = cpus, memory, pids_limit
        self.read_only_root = read_only_root
        self.user = user or docker_user.default_user()
        self.check_image = check_image
        self.gpus, self.always_pull = gpus, always_pull
        self._client = client
        self._owns_client = False
        self.allowlist = allowlist or Allowlist()
        self.services = dict(services or {})
        self.relay_dir = Path(relay_dir) if relay_dir else self.proxy_socket_dir.with_name(
            f"{self.proxy_socket_dir.name}-relays")
        self.network_databases = [db for db in network_databases if not db.is_file]
        self._relays: dict[str, RunRelays] = {}
        self.tunnels = tunnels
        self.warm: WarmContainers | None = None
        if warm_dir is not None and docker_user.container_owner(self.user) is not None:
            # NOTE: only when the container's user is not the node's: a warm container
            # sees its job's run folders, which must be the node's and not its own
            self.warm = WarmContainers(self, Path(warm_dir))

    @classmethod
    def from_options(cls, options: Any) -> DockerRuntime:
        """Build from the node's settings (``NodeOptions``; optional fields read defensively)."""
        kwargs: dict[str, Any] = {
            "cpus": getattr(options, "cpus", None),
            "memory": getattr(options, "memory", None),
            "registries": tuple(getattr(options, "docker_registries", None) or ()),
            "proxy_socket_dir": Path(options.task_dir) / "proxy",
            "gpus": bool(getattr(options, "gpus", False)),
            "always_pull": bool(getattr(options, "require_algorithm_pull", False)),
            "allowlist": getattr(options, "allowlist", None),
            "services": getattr(options, "docker_services", None),
            "relay_dir": Path(options.task_dir) / "relays",
            "network_databases": list((getattr(options, "databases", None) or {}).values()),
            "tunnels": SshTunnels(options.ssh_tunnels)
            if getattr(options, "ssh_tunnels", None) else None,
            "warm_dir": (Path(options.task_dir) / "warm"
                         if getattr(options, "docker_warm_containers", True) else None),
        }
        for name in ("check_image", "pids_limit"):
            value = getattr(options, f"docker_{name}", None)
            if value is not None:
                kwargs[name] = value
        return cls(str(options.name), **kwargs)

    # -- engine and network -------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            import docker

            try:
                self._client = docker.from_env()
                self._owns_client = True
            except docker.errors.DockerException as exc:
                raise RuntimeUnavailableError(
                    f"cannot reach the Docker engine ({exc}); start it (e.g. "
                    "`bash .ci/docker.sh`) or choose the process runtime for development"
                ) from exc
        return self._client

    def _engine(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the engine, turning connection trouble into RuntimeUnavailableError."""
        import docker.errors
        import requests

        try:
            return fn(*args, **kwargs)
        except (docker.errors.NotFound, docker.errors.ImageNotFound):
            raise
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise RuntimeUnavailableError(f"Docker engine error: {exc}") from exc

    def verify(self) -> None:
        """Engine reachable and isolation proven by a probe container (proxy listening)."""
        self._engine(self.client.ping)
        self.check_isolation()

    def proxy_socket(self) -> Path:
        return self.proxy_socket_dir / PROXY_SOCKET_NAME

    def check_isolation(self) -> iso.IsolationReport:
        """Run a throw-away container, set up like a run's, that must reach only the proxy.

        Needs the node proxy listening on :meth:`proxy_socket`: the daemon verifies its
        runtime right after starting the proxy.
        """
        import docker.errors
        from docker.types import Mount

        try:
            self.client.images.get(self.check_image)
        except docker.errors.ImageNotFound:
            raise RuntimeUnavailableError(
                f"isolation check impossible: image {self.check_image!r} is not present "
                "locally (build it with .ci/images.sh or set another check image)"
            ) from None
        docker_user.hand_over_socket(self.proxy_socket(), self.user)
        relays = self.open_relays(0, self.network_databases)
        try:
            command = iso.probe_command(
                PROXY_SOCKET, extra_targets=iso.direct_targets(self.network_databases),
                relays=[(name[3:], path) for name, path in relays.sockets.items()
                        if name.startswith("db:")],
                allowlist_socket=relays.sockets.get("allowlist", ""))
            mounts = [Mount(PROXY_DIR, str(self.proxy_socket_dir.resolve()), type="bind",
                            read_only=True)]
            if relays.servers:
                mounts.append(Mount(RELAY_DIR, str(relays.directory.resolve()),
                                    type="bind", read_only=True))
            output = self._engine(
                self.client.containers.run, self.check_image, command[1:],
                entrypoint=command[:1], remove=True, stdout=True, stderr=True,
                mounts=mounts,
                labels={LABEL_NODE: self.node_name, "v6lib.purpose": "isolation-check"},
                **self._confinement(),
            )
        finally:
            relays.close()
        report = iso.read_report(output.decode("utf-8", "replace"))
        report.raise_if_unsafe()
        return report

    def _confinement(self) -> dict[str, Any]:
        """What every container of this node gets: no network, no privileges, limits."""
        return {
            "network_mode": "none", "user": self.user, "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"], "pids_limit": self.pids_limit,
            "read_only": self.read_only_root, "ipc_mode": "private",
            "tmpfs": {"/tmp": "rw,nosuid,nodev,mode=1777"},
        }

    def close(self) -> None:
        """At node shutdown: close the engine connection (containers outlive the node and
        are reconciled at its next start; the proxy removes its own socket)."""
        if self.tunnels is not None:
            self.tunnels.close()
        if self.warm is not None:
            self.warm.close()
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    # -- runs ---------------------------------------------------------------------------
    def _mounts(self, spec: JobSpec, paths: Mapping[str, str]) -> list[Any]:
        return [
            bind_mount(spec, paths["input"], spec.input_file, True),
            bind_mount(spec, paths["token"], spec.token_file, True),
            bind_mount(spec, str(PurePosixPath(paths["output"]).parent),
                       spec.output_file.parent, False),
            bind_mount(spec, paths["tmp"], spec.temporary_folder, False),
            *self.shared_mounts(spec, paths),
            *launch_mounts(),
        ]

    def shared_mounts(self, spec: JobSpec, paths: Mapping[str, str]) -> list[Any]:
        """The proxy's folder and the run's file databases, all read-only: what a warm
        container of the run's job (:mod:`docker_warm`) mounts as well."""
        mounts = [bind_mount(spec, PROXY_DIR, self.proxy_socket_dir, True)]
        for db in spec.databases:
            if db.is_file:
                mounts.append(bind_mount(spec, paths[f"db:{db.label}"], Path(db.uri), True))
        return mounts

    def run_environment(self, spec: JobSpec, paths: Mapping[str, str],
                        relays: RunRelays | None = None) -> dict[str, str]:
        """The contract's environment of a run whose files appear at ``paths`` (and
        whose network databases and allowed destinations are reached through ``relays``)."""
        databases = relays.databases if relays is not None else spec.databases
        return contract_environment(
            input_file=paths["input"], output_file=paths["output"], token_file=paths["token"],
            temporary_folder=paths["tmp"], host="http://127.0.0.1",
            port=spec.proxy_port or CONTAINER_PROXY_PORT,
            api_path=spec.api_path, proxy_socket=paths["proxy"],
            databases=[replace(db, uri=paths[f"db:{db.label}"]) if db.is_file else db
                       for db in databases],
            extra={"HOME": "/tmp", **spec.environment,
                   **(relays.environment if relays is not None else {})},
        )

    def container_options(self, spec: JobSpec, *, name: str, labels: Mapping[str, str],
                          environment: Mapping[str, str], mounts: list[Any]) -> dict[str, Any]:
        """``containers.create`` keywords: the confinement and the run's limits."""
        from docker.types import LogConfig

        cpus = spec.cpus if spec.cpus is not None else self.cpus
        memory = spec.memory if spec.memory is not None else self.memory
        options: dict[str, Any] = {
            "name": name, "environment": dict(environment), "labels": dict(labels),
            "mounts": mounts, **self._confinement(), "detach": True,
            "log_config": LogConfig(type="json-file",
                                    config={"max-size": "16m", "max-file": "2"}),
        }
        if cpus:
            options["nano_cpus"] = int(float(cpus) * 1e9)
        if memory:
            options["mem_limit"] = options["memswap_limit"] = memory
        if self.gpus:
            from docker.types import DeviceRequest

            options["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        return options

    def output_owner(self) -> int:
        return docker_user.output_owner(self.user)

    def open_relays(self, run_id: int, databases: Sequence[JobDatabase]) -> RunRelays:
        """The run's relays: one per requested network database, and the allowlisting
        proxy when the node has a whitelist or services (see :mod:`v6lib.node.relays`)."""
        services = self._engine(service_addresses, self.client, self.services)
        allowlist = replace(self.allowlist, services=services,
                            routes=self.tunnels.start() if self.tunnels else {})
        return open_relays(run_id, databases, allowlist,
                           directory=self.relay_dir / f"r{run_id}", container_dir=RELAY_DIR,
                           services=services, owner=docker_user.container_owner(self.user))

    def start(self, spec: JobSpec) -> str:
        self._engine(ensure_image, self.client, spec.image, self.registries, self.node_name,
                     always_pull=self.always_pull)
        relays = self.open_relays(spec.run_id, spec.databases)
        try:
            # NOTE: a warm container outlives the run whose relay folder it would mount,
            # so only runs that need no relay share one
            handle = self.warm.start(spec) if self.warm is not None and not relays.servers \
                else None
            if handle is not None:
                relays.close()
                return handle
            handle = self._start(spec, relays)
        except BaseException:
            relays.close()
            raise
        self._relays[handle] = relays
        return handle

    def _start(self, spec: JobSpec, relays: RunRelays) -> str:
        """A container of the run's own: the image's command (through the launcher when
        the image has no v6lib wrapper), the run's files, relays and limits."""
        paths = container_paths(spec)
        env = self.run_environment(spec, paths, relays)
        mounts = self._mounts(spec, paths)
        if relays.servers:
            from docker.types import Mount

            mounts.append(Mount(RELAY_DIR, str(relays.directory.resolve()), type="bind",
                                read_only=True))
        docker_user.hand_over_run_files(spec, self.user)
        docker_user.hand_over_socket(self.proxy_socket(), self.user)
        labels = {LABEL_NODE: spec.node_name, LABEL_RUN: str(spec.run_id),
                  LABEL_TASK: str(spec.task_id), LABEL_JOB: str(spec.job_id)}
        options = self.container_options(
            spec, name=f"v6-{_slug(spec.node_name)}-run-{spec.run_id}", labels=labels,
            environment=env, mounts=mounts)
        image_config = self._engine(self.client.api.inspect_image, spec.image)["Config"]
        options.update(launch_command(image_config or {}))
        container = self._create(spec, options)
        try:
            self._engine(container.start)
        except RuntimeUnavailableError as exc:
            self.remove(container.id)
            reason = start_problem(exc, spec.image)
            if reason is not None:
                raise RuntimeUnavailableError(reason) from exc
            raise
        log.info("run %d: container %s started from %s", spec.run_id, container.id[:12],
                 spec.image)
        return str(container.id)

    def _create(self, spec: JobSpec, options: dict[str, Any]) -> Any:
        import docker.errors

        create = self.client.containers.create
        try:
            return self._engine(create, spec.image, **options)
        except docker.errors.ImageNotFound as exc:
            raise NotFoundError(f"docker image {spec.image!r} vanished: {exc}") from exc
        except RuntimeUnavailableError as exc:
            cause = exc.__cause__
            if getattr(cause, "status_code", None) != 409:
                raise
        # Name taken: a leftover of this run from an earlier life may go, anything else not.
        old = self._engine(self.client.api.inspect_container, options["name"])
        state = (old.get("State") or {}).get("Status", "")
        labels = (old.get("Config") or {}).get("Labels") or {}
        if labels.get(LABEL_RUN) != str(spec.run_id) or state in _RUNNING:
            raise ConflictError(
                f"container {options['name']!r} already exists ({state}); run "
                f"{spec.run_id} is not started twice"
            )
        self.remove(old["Id"])
        return self._engine(create, spec.image, **options)

    def _inspect(self, handle: str) -> dict[str, Any]:
        import docker.errors

        try:
            details: dict[str, Any] = self._engine(self.client.api.inspect_container, handle)
        except docker.errors.NotFound:
            raise NotFoundError(f"no container {handle[:12]!r} on this node") from None
        return details

    def wait(self, handle: str, timeout: float | None = None) -> ExitInfo | None:
        import requests

        if self.warm is not None and is_warm_handle(handle):
            return self.warm.wait(handle, timeout)

        state = self._inspect(handle)["State"]
        if state.get("Status") in _RUNNING:
            if timeout is not None and timeout <= 0:
                return None
            try:
                self._engine(self.client.api.wait, handle, timeout=timeout)
            except RuntimeUnavailableError as exc:
                if not isinstance(exc.__cause__, requests.exceptions.RequestException):
                    raise
            state = self._inspect(handle)["State"]
            if state.get("Status") in _RUNNING:
                return None
        logs = self.logs(handle)
        if state.get("OOMKilled"):
            logs += "\n[v6lib: the container was stopped: out of memory]\n"
        return ExitInfo(exit_code=int(state.get("ExitCode", -1)), logs=logs)

    def logs(self, handle: str, limit: int = LOG_LIMIT) -> str:
        """stdout+stderr, only the last ``limit`` bytes (with a marker) of long logs."""
        import docker.errors

        tail: collections.deque[bytes] = collections.deque()
        kept = total = 0
        try:
            stream = self.client.api.logs(handle, stdout=True, stderr=True, stream=True,
                                          follow=False)
            for chunk in stream:
                tail.append(chunk)
                kept += len(chunk)
                total += len(chunk)
                while kept - len(tail[0]) >= limit:
                    kept -= len(tail.popleft())
        except docker.errors.NotFound:
            return ""
        data = b"".join(tail)[-limit:]
        text = data.decode("utf-8", "replace")
        if total > len(data):
            text = f"[... {total - len(data)} bytes of earlier log truncated ...]\n" + text
        return text

    def kill(self, handle: str) -> None:
        import docker.errors

        if self.warm is not None and is_warm_handle(handle):
            return self.warm.kill(handle)

        try:
            self.client.api.kill(handle)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: not running any more
                raise RuntimeUnavailableError(f"cannot kill {handle[:12]}: {exc}") from exc

    def remove(self, handle: str) -> None:
        import docker.errors

        relays = self._relays.pop(handle, None)
        if relays is not None:
            relays.close()
        if self.warm is not None and is_warm_handle(handle):
            return self.warm.remove(handle)

        try:
            self.client.api.remove_container(handle, v=True, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise RuntimeUnavailableError(f"cannot remove {handle[:12]}: {exc}") from exc

    def list_managed(self) -> list[ManagedJob]:
        found = self._engine(self.client.api.containers, all=True,
                             filters={"label": [f"{LABEL_NODE}={self.node_name}", LABEL_RUN]})
        warm = self.warm.list_managed() if self.warm is not None else []
        return [
            ManagedJob(handle=c["Id"], run_id=int(c["Labels"][LABEL_RUN]),
                       running=c.get("State") in _RUNNING)
            for c in found
        ] + warm
