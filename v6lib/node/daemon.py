"""The node daemon: connect, reconcile, then react to server events until stopped.

Lifecycle of :class:`Node`:

1. log in with the API key (retrying while the server is away), check the server's
   version, learn the node's organization and collaboration;
2. with encryption enabled: make sure the server holds this node's public key (upload
   it when missing; refuse to start when it holds a different one);
3. start the proxy for algorithms (serving only the container tokens of this node's runs
   in flight) and the outbox uploader, reconcile the journal with
   the runtime and the server, take every pending run;
4. long-poll ``GET /event``: ``run_created`` starts a run, ``task_killed`` (and a
   ``run_updated`` to killed) stops its containers within a second. After an outage the
   node re-authenticates by itself and sweeps pending runs again.

Shutdown (SIGTERM/SIGINT through :meth:`Node.stop`): the node stops taking runs and
leaves running containers alone; the journal already holds everything, and the next
start reconciles them (keeps watching, collects their output, or reports them crashed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from v6lib import __version__
from v6lib.client.refusals import REFUSALS, refusal_delay
from v6lib.client.transport import Transport
from v6lib.crypto import fingerprint, load_private_key, load_public_key_pem, public_key_b64
from v6lib.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    EncryptionError,
    NodeHaltedError,
    NotFoundError,
    PermissionDenied,
    ServerUnavailableError,
    V6Error,
    VersionMismatchError,
)
from v6lib.node.audit import AuditTrail, ChainHead
from v6lib.node.executor import Identity, RunExecutor
from v6lib.node.journal import Journal, LocalState
from v6lib.node.keys import NodeKeys
from v6lib.node.options import NodeOptions
from v6lib.node.outbox import Outbox
from v6lib.node.progress import ProgressRelay
from v6lib.node.proxy import NodeProxy
from v6lib.node.reconcile import ReconcileReport, reconcile
from v6lib.node.retry import Backoff, is_transient, retry_call
from v6lib.node.run_audit import RunAudit
from v6lib.node.run_tokens import RunTokens
from v6lib.node.runtime.base import ContainerRuntime
from v6lib.node.server_link import ServerLink, link_for
from v6lib.node.supervisor import FailureTracker, Supervisor
from v6lib.schemas.run_status import RunStatus
from v6lib.trust import TrustStore

__all__ = ["Node", "check_version", "make_runtime"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: An event poll answered sooner than this without events was not held by the server.
_EARLY_ANSWER = 0.2
#: How long to pause before polling again after such an answer (the server's hint).
_SHORT_POLL_PAUSE = 1.0


def check_version(server: dict[str, Any], node_version: str = __version__) -> None:
    """Compare major.minor of the server's and node's versions; name what to upgrade."""
    server_version = str(server.get("version", "0.0.0"))
    theirs = tuple(int(p) for p in server_version.split(".")[:2] if p.isdigit())
    ours = tuple(int(p) for p in node_version.split(".")[:2] if p.isdigit())
    if theirs == ours:
        return
    component = "the node (pip install -U v6lib on this machine)" if theirs > ours else \
        "the server"
    message = (f"version skew: server {server_version}, node {node_version}; "
               f"upgrade {component}")
    if theirs[:1] != ours[:1] or int(server.get("api", 1)) != 1:
        raise VersionMismatchError(message + " (incompatible major version)")
    log.warning("%s (minor versions differ; continuing)", message)


def make_runtime(options: NodeOptions) -> ContainerRuntime:
    """The runtime named in the config (docker imported only when chosen)."""
    if options.runtime == "process":
        from v6lib.node.runtime.process import ProcessRuntime
        from v6lib.node.ssh_tunnels import SshTunnels

        return ProcessRuntime(options.task_dir / "process-runtime",
                              image_modules=options.process_images,
                              warm_start=options.process_warm_start,
                              preload=options.process_preload,
                              allowlist=options.allowlist,
                              tunnels=SshTunnels(options.ssh_tunnels)
                              if options.ssh_tunnels else None)
    if options.runtime == "docker":
        from v6lib.node.runtime import docker as docker_runtime

        return docker_runtime.DockerRuntime.from_options(options)
    raise ConfigurationError(f"runtime must be 'docker' or 'process', got {options.runtime!r}")


class Node:
    """One node daemon.

    Args:
        options: node settings (``NodeOptions.from_config(load_node_config(path))``).
        transport: HTTP transport to the server (tests inject a fake).
        runtime: the container runtime (default from ``options.runtime``).
        clock: current UTC time, for the journal.
        backoff: delays while the server is unreachable.
    """

    def __init__(
        self,
        options: NodeOptions,
        *,
        transport: Transport | None = None,
        runtime: ContainerRuntime | None = None,
        clock: Callable[[], datetime] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        if not isinstance(options, NodeOptions):
            options = NodeOptions.from_config(options)
        self.options = options
        self.stop_event = threading.Event()
        self.backoff = backoff or Backoff(base=0.5, max_delay=30.0)
        self.supervisor = Supervisor(self.stop_event, backoff=self.backoff,
                                     give_up_after=options.give_up_after)
        self._trackers: dict[str, FailureTracker] = {}
        self.link = ServerLink(transport, options.api_key) if transport is not None \
            else link_for(options)
        self.runtime = runtime or make_runtime(options)
        options.task_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(options.journal_path,
                               clock=clock or (lambda: datetime.now(UTC).replace(tzinfo=None)),
                               retention=timedelta(days=options.journal_retention_days))
        self.outbox = Outbox(self.journal, self.link, backoff=self.backoff)
        self.tokens = RunTokens(self.journal)
        self.progress = ProgressRelay(self.tokens, self.link.post_progress,
                                      messages_allowed=options.allow_progress_messages)
        self.audit_trail = AuditTrail(options.audit_path)
        self._published_head: ChainHead | None = None
        self.identity: Identity | None = None
        self.keys: NodeKeys | None = None
        self.proxy: NodeProxy | None = None
        self.executor: RunExecutor | None = None
        self.cursor: int | None = None
        self.reconcile_report: ReconcileReport | None = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="node-start")
        self._threads: list[threading.Thread] = []

    # -- start-up -----------------------------------------------------------------------
    def _until_reachable(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, retried with backoff while the server is away or times out.

        Why: a server that restarts, or a network that drops a request, must not end a
        starting node (``cannot reach ...: ReadTimeout``); only a stop request does.
        """
        return retry_call(fn, backoff=self.backoff, stop=self.stop_event, what=what,
                          retry_if=is_transient)

    def connect(self) -> Identity:
        """Log in, check versions, learn who we are; retries while the server is away."""
        return self._until_reachable(self._identify, "start-up")

    def _identify(self) -> Identity:
        self.link.login()
        check_version(self.link.version())
        node = self.link.node(int(self.link.node_id or 0))
        collaboration = self.link.collaboration(int(node["collaboration_id"]))
        self.identity = Identity(
            node_id=int(node["id"]), organization_id=int(node["organization_id"]),
            collaboration_id=int(node["collaboration_id"]),
            encrypted=bool(collaboration.get("encrypted")),
        )
        if self.identity.encrypted != self.options.encryption_enabled:
            log.error("collaboration %d is %sencrypted but node '%s' has encryption %s: "
                      "every run will be refused until the node configuration matches",
                      self.identity.collaboration_id,
                      "" if self.identity.encrypted else "not ",
                      self.options.name,
                      "enabled" if self.options.encryption_enabled else "disabled")
        log.info("node '%s' connected as node %d of organization %d in collaboration %d",
                 self.options.name, self.identity.node_id, self.identity.organization_id,
                 self.identity.collaboration_id)
        return self.identity

    def setup_keys(self) -> NodeKeys:
        """Load the private key and make sure the server holds its public half."""
        assert self.identity is not None
        private_key = None
        use_encryption = self.options.encryption_enabled and self.identity.encrypted
        if self.options.encryption_enabled:
            if self.options.private_key_path is None:
                raise ConfigurationError(
                    f"node '{self.options.name}': encryption.enabled is true but "
                    "encryption.private_key is not set")
            private_key = load_private_key(self.options.private_key_path)
            org = self.link.organization(self.identity.organization_id)
            held = org.get("public_key")
            ours = public_key_b64(private_key)
            if not held:
                try:
                    self.link.set_public_key(self.identity.organization_id, ours)
                except PermissionDenied as exc:
                    raise EncryptionError(
                        f"organization {self.identity.organization_id} has no public key on "
                        f"the server and the server refused this node's upload ({exc.message});"
                        " an organization admin must upload it (public key of "
                        f"{self.options.private_key_path})") from exc
                log.info("uploaded the public key of organization %d (fingerprint %s)",
                         self.identity.organization_id, fingerprint(private_key)[:16])
            elif fingerprint(load_public_key_pem(held)) != fingerprint(private_key):
                raise EncryptionError(
                    f"the server holds a different public key for organization "
                    f"{self.identity.organization_id} (fingerprint "
                    f"{fingerprint(load_public_key_pem(held))[:16]}) than the private key in "
                    f"{self.options.private_key_path} (fingerprint "
                    f"{fingerprint(private_key)[:16]}); use the matching private key, or "
                    "upload this one with `v6 node create-private-key --upload`")
        trust = TrustStore(self.options.trust_path)
        if private_key is not None:
            # NOTE: the node's own key is the truth about its organization
            trust.accept(self.identity.organization_id, fingerprint(private_key))
        self.keys = NodeKeys(encrypted=use_encryption, private_key=private_key,
                             organization_getter=self.link.organization, trust=trust)
        return self.keys

    def start(self) -> None:
        """Everything up to (not including) the event loop; every call to the server is
        retried while it is away."""
        self.connect()
        keys = self._until_reachable(self.setup_keys, "loading the node's keys")
        assert self.identity is not None
        self.tokens.load()  # the runs a previous life left in flight keep their proxy
        unix_socket = self.runtime.proxy_socket()
        # NOTE: algorithms of a runtime with a proxy socket reach the proxy only there;
        # a TCP port on 127.0.0.1 would only serve other processes on this machine.
        self.proxy = NodeProxy(upstream_url=self.options.server_api_url, keys=keys,
                               ca_file=self.options.server_ca_file,
                               authorize=self.tokens.accepts,
                               api_path=self.options.algorithm_api_path,
                               port=self.options.proxy_port if unix_socket is None else None,
                               unix_socket=unix_socket,
                               organization_id=self.identity.organization_id,
                               progress=self.progress.receive)
        self.proxy.start()
        self.runtime.verify()  # after the proxy: the isolation check must reach it
        self.executor = RunExecutor(
            options=self.options, identity=self.identity, journal=self.journal,
            link=self.link, keys=keys, runtime=self.runtime, outbox=self.outbox,
            proxy_port=self.options.proxy_port if unix_socket else self.proxy.port,
            stop=self.stop_event, backoff=self.backoff, tokens=self.tokens,
            audit=RunAudit(self.audit_trail),
            supervisor=self.supervisor,
        )
        self._spawn(self.outbox.run_forever, self.stop_event, name="node-outbox")
        self._spawn(self.progress.run_forever, self.stop_event, name="node-progress")
        self.cursor = self._until_reachable(self._current_cursor, "reading the event cursor")
        executor = self.executor
        self.reconcile_report = self._until_reachable(lambda: reconcile(executor),
                                                      "reconciling the journal")
        self._safe(self.sweep)  # on a failure the next periodic sweep takes them
        self._safe(self.publish_audit_head)

    def _current_cursor(self) -> int | None:
        try:
            return int(self.link.events(None, 0)["cursor"])
        except (KeyError, TypeError, ValueError):
            return None

    def sweep(self) -> None:
        """Take every pending run (after start-up and after every outage), and resume
        those this node claimed but left unstarted."""
        assert self.executor is not None and self.identity is not None
        seen: set[int] = set()
        for filters in ({"node_id": self.identity.node_id},
                        {"organization_id": self.identity.organization_id}):
            for run in list(self.link.runs(status="pending", **filters)):
                if run["id"] not in seen:
                    seen.add(run["id"])
                    self._submit(run)
        for entry in self.journal.in_flight():
            if entry.handle is None and entry.run_id not in seen:
                seen.add(entry.run_id)
                self._submit(self.link.run(entry.run_id))
        # claimed, but neither journaled nor reported (a full disk, then the server away)
        for run in list(self.link.runs(status="initializing", node_id=self.identity.node_id)):
            if run["id"] not in seen and self.journal.get(run["id"]) is None:
                self._submit(run)

    def publish_audit_head(self) -> None:
        """Put the audit trail's head on the server (when it moved since the last time).

        Why: a trail cut short or rewritten later no longer holds the published entry,
        which ``v6 node audit verify --head`` shows to anyone who reads the node's record.
        """
        assert self.identity is not None
        head = self.audit_trail.head
        if head.count == 0 or head == self._published_head:
            return
        try:
            self.link.publish_audit_head(self.identity.node_id, head.count, head.hash)
        except ConflictError as exc:
            log.error("audit trail %s does not continue the head published before "
                      "(%s): it was truncated or rewritten", self.options.audit_path, exc)
            return
        self._published_head = head

    def recheck_in_flight(self) -> list[int]:
        """Ask the server about every run this node holds; stop those killed meanwhile.

        Why: the server keeps events for a limited time, so a node cut off for longer
        may never see a ``task_killed``; the run's own status on the server is the truth.
        Returns the ids of the runs stopped.
        """
        assert self.executor is not None
        stopped = []
        for entry in self.journal.in_flight():
            if entry.state not in (LocalState.STARTING, LocalState.STARTED):
                continue  # not started yet: the sweep's claim finds out
            try:
                status = self.link.run(entry.run_id).get("status")
            except NotFoundError:
                status, reason = RunStatus.KILLED.value, "the run no longer exists on the server"
            else:
                reason = "killed by user"
            if status == RunStatus.KILLED.value:
                log.info("run %d: killed on the server while the node was cut off; stopping it",
                         entry.run_id)
                self.executor.kill_run(entry.run_id, reason)
                stopped.append(entry.run_id)
        return stopped

    # -- event loop ---------------------------------------------------------------------
    def run_forever(self) -> None:
        """React to events until :meth:`stop` is called."""
        failures = 0
        last_sweep = time.monotonic()
        while not self.stop_event.is_set():
            if time.monotonic() - last_sweep >= self.options.sweep_interval:
                # A safety net for anything an event or a failed call left behind.
                last_sweep = time.monotonic()
                self._safe(self.sweep)
                self._safe(self.publish_audit_head)
            asked = time.monotonic()
            # NOTE: the first poll after an outage is not held: the recovery below (runs
            # in flight re-read, pending runs swept) must not wait out a long-poll first
            recovering = failures > 0
            try:
                body = self.link.events(self.cursor,
                                        0 if recovering else self.options.event_timeout)
            except REFUSALS as exc:
                # NOTE: the server is up but holds no more long-polls now (429, or 503
                # server_busy): come back when it says, not counted as an outage.
                delay = refusal_delay(exc, default=self.backoff.base) or 0.0
                log.info("event stream: %s; polling again in %.1f s", exc, delay)
                self.stop_event.wait(delay)
                continue
            except (ServerUnavailableError, AuthenticationError) as exc:
                delay = self.backoff.delay(failures)
                failures += 1
                log.warning("event stream: %s; retrying in %.1f s", exc, delay)
                self.stop_event.wait(delay)
                continue
            except V6Error as exc:
                log.error("event stream error: %s", exc)
                self.stop_event.wait(self.backoff.delay(failures))
                failures += 1
                continue
            if failures:
                log.info("server reachable again; re-reading the runs in flight and "
                         "sweeping pending runs")
                failures = 0
                self._safe(self.recheck_in_flight)
                self._safe(self.sweep)
                self.outbox.notify()
            self.cursor = body.get("cursor", self.cursor)
            for event in body.get("events", []):
                self._safe(self.dispatch, event)
            if (not recovering and not body.get("events")
                    and time.monotonic() - asked < _EARLY_ANSWER):
                # NOTE: a busy server answers at once instead of holding the poll; pause
                # so that this loop short-polls rather than spins.
                self.stop_event.wait(_SHORT_POLL_PAUSE)

    def dispatch(self, event: dict[str, Any]) -> None:
        """React to one server event."""
        assert self.executor is not None and self.identity is not None
        kind = event.get("type")
        if kind == "run_created":
            if event.get("organization_id") not in (None, self.identity.organization_id):
                return
            if event.get("run_id") is not None and event.get("organization_id") is not None:
                # NOTE: the claim returns the run with its input: no GET /run/{id} first.
                self._submit({"id": event["run_id"], "task_id": event["task_id"],
                              "organization_id": event["organization_id"],
                              "status": "pending"})
            elif event.get("run_id") is not None:
                self._submit(self.link.run(int(event["run_id"])))
            else:
                for run in self.link.runs(task_id=event["task_id"],
                                          organization_id=self.identity.organization_id,
                               progress=self.progress.receive):
                    self._submit(run)
        elif kind == "task_killed":
            killed = self.executor.kill_task(int(event["task_id"]))
            log.info("task %s killed: stopped runs %s", event["task_id"], killed)
        elif kind == "run_updated" and event.get("status") == "killed by user" and \
                event.get("run_id") is not None:
            self.executor.kill_run(int(event["run_id"]))

    def _submit(self, run: dict[str, Any]) -> None:
        assert self.executor is not None
        self._pool.submit(self._safe, self.executor.handle_run, run)

    def _safe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn``; a failure is logged (once while it repeats), never raised: the
        next event or sweep tries again, and a failure that lasts stops the node."""
        name = getattr(fn, "__name__", str(fn))
        tracker = self._trackers.setdefault(name, self.supervisor.tracker(name))
        try:
            fn(*args)
        except ServerUnavailableError as exc:
            log.warning("%s postponed: %s", name, exc)
            return
        except Exception as exc:  # logged, retried by the next sweep
            tracker.failed(exc)
            return
        tracker.succeeded()

    def _spawn(self, target: Callable[..., Any], *args: Any, name: str) -> None:
        self._threads.append(self.supervisor.spawn(target, *args, name=name))

    # -- shutdown -----------------------------------------------------------------------
    def stop(self) -> None:
        """Stop taking runs; running containers stay and are reconciled on the next start."""
        self.stop_event.set()
        self.outbox.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Release threads, the proxy and the journal (after :meth:`stop`)."""
        self.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for thread in self._threads:
            if thread.name != "node-events":  # may sit in a long-poll; it is a daemon
                thread.join(timeout)
        if self.executor is not None:
            for thread in list(self.executor.watchers.values()):
                thread.join(timeout)
        try:
            self.outbox.flush()
        except Exception as exc:  # shutting down; the journal keeps it
            log.warning("final upload attempt failed (%s); the journal keeps it", exc)
        if self.identity is not None:
            self._safe(self.publish_audit_head)  # the last runs' entries too
        if self.proxy is not None:
            self.proxy.stop()
        try:
            self.runtime.close()
        except V6Error as exc:
            log.warning("runtime clean-up failed: %s", exc)
        self.journal.close()

    def serve(self) -> None:
        """Start, loop until :meth:`stop`, and close.

        The event loop runs in a daemon thread so that a stop request does not wait for
        the current long-poll to return. Raises :class:`NodeHaltedError` (the command
        exits non-zero) when a thread of the node kept failing (see
        :mod:`v6lib.node.supervisor`).
        """
        try:
            self.start()
            self._spawn(self.run_forever, name="node-events")
            while not self.stop_event.wait(0.5):
                pass
        finally:
            self.close()
        if self.supervisor.fatal is not None:
            raise NodeHaltedError(self.supervisor.fatal)
