"""Runs one run from "pending" to a journaled outcome: check, prepare, start, watch, finish.

Why separate from the daemon loop: this is the node's decision logic (policy refusal,
start failures, exit codes, output checks, kills), tested with a fake runtime and a
fake server. Every step is journaled before it is acted upon; outcomes are never sent
from here but handed to the :class:`~v6lib.node.outbox.Outbox`, which delivers them.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from v6lib.crypto import TaskBinding
from v6lib.errors import (
    ConflictError,
    EncryptionError,
    NotFoundError,
    PermissionDenied,
    RuntimeUnavailableError,
    V6Error,
)
from v6lib.node.database_rows import DatabaseRows
from v6lib.node.disk_space import (
    DiskFullError,
    check_free_space,
    disk_full_reason,
    is_disk_full,
)
from v6lib.node.journal import Journal, JournalEntry, LocalState
from v6lib.node.keys import NodeKeys
from v6lib.node.options import NodeOptions
from v6lib.node.outbox import Outbox
from v6lib.node.retry import Backoff, is_transient, retry_call
from v6lib.node.run_audit import RunAudit
from v6lib.node.run_files import RunPaths, prepare_run_files, remove_run_files, run_paths
from v6lib.node.run_output import OutputCollector
from v6lib.node.run_tokens import RunTokens
from v6lib.node.runtime.base import ContainerRuntime, ExitInfo, JobSpec, ManagedJob
from v6lib.node.server_link import ServerLink
from v6lib.node.supervisor import Supervisor
from v6lib.rules.failures import without_tracebacks
from v6lib.rules.node_policy import RunRequest, evaluate
from v6lib.rules.time_limits import TimeLimit, run_time_limit
from v6lib.schemas.run import RunClaimOut, RunOut
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task import TaskOut

__all__ = ["Identity", "RunExecutor"]

log = logging.getLogger(__name__)
GONE_REASON = "node restarted and the run's container was gone"


@dataclass(frozen=True)
class Identity:
    """Who this node is on the server."""

    node_id: int
    organization_id: int
    collaboration_id: int
    encrypted: bool


class RunExecutor:
    """Starts runs on the runtime and turns their ends into journaled outcomes."""

    def __init__(
        self,
        *,
        options: NodeOptions,
        identity: Identity,
        journal: Journal,
        link: ServerLink,
        keys: NodeKeys,
        runtime: ContainerRuntime,
        outbox: Outbox,
        proxy_port: int,
        stop: threading.Event,
        backoff: Backoff | None = None,
        tokens: RunTokens | None = None,
        audit: RunAudit | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.options = options
        self.identity = identity
        self.journal = journal
        self.link = link
        self.keys = keys
        self.runtime = runtime
        self.outbox = outbox
        self.proxy_port = proxy_port
        self.stop = stop
        self.backoff = backoff or Backoff(base=0.5, max_delay=10.0)
        self.supervisor = supervisor or Supervisor(stop, backoff=self.backoff,
                                                   give_up_after=options.give_up_after)
        # the container tokens the proxy serves: those of this node's runs in flight
        self.tokens = tokens or RunTokens(journal)
        self.audit = audit or RunAudit(None)
        rows = DatabaseRows()
        self.output = OutputCollector(
            keys=keys, organization_id=identity.organization_id,
            owner=runtime.output_owner(), limit=options.max_output_bytes,
            results=journal.results, encrypted=identity.encrypted,
            disclosure=options.disclosure,
            # NOTE: every database of the node, not only the run's: stricter, and known
            # after a restart too
            input_rows=lambda: rows.counts(options.databases.values()))
        self._busy: set[int] = set()
        self._lock = threading.Lock()
        self.watchers: dict[int, threading.Thread] = {}

    # -- entry points -------------------------------------------------------------------
    def handle_run(self, run: dict[str, Any]) -> None:
        """Take a run offered by the server (event or pending list); never runs one twice."""
        run_id = int(run["id"])
        with self._lock:
            if run_id in self._busy:
                return
            self._busy.add(run_id)
        try:
            self._handle(run)
        finally:
            with self._lock:
                self._busy.discard(run_id)

    def _handle(self, run: dict[str, Any]) -> None:
        run_id = int(run["id"])
        entry = self.journal.get(run_id)
        if not self._to_start(run, entry):
            return
        no_room = self._no_room()
        # Journaled before the server hears of it: a restart finds the entry and claims
        # again (the server hands a run this node initializes out again).
        if entry is None and not self._journal_new(run_id, int(run["task_id"])):
            return
        claim = self._claim(run_id)
        if claim is None:
            return
        task = claim.task
        self.journal.update(run_id, job_id=task.job_id or task.id, task_uid=task.uid,
                            image=task.image, init_org_id=task.init_org_id,
                            max_run_seconds=task.max_run_seconds)
        log.info("run %d task %d: claimed (image %s)", run_id, task.id, task.image)
        self.audit.received(run_id, task)
        if no_room:
            self._finish(run_id, RunStatus.START_FAILED, reason=no_room)
            return
        replayed = self._replay_reason(run_id, task)
        if replayed:
            self.audit.decided(run_id, "replay", False, replayed)
            self._finish(run_id, RunStatus.NOT_ALLOWED, reason=replayed)
            return
        decision = evaluate(self.options.policy, RunRequest(
            image=task.image,
            database_labels=[d["label"] for d in task.databases],
            collaboration_id=task.collaboration_id,
            collaboration_encrypted=self.identity.encrypted,
            init_org_id=task.init_org_id, init_user_id=task.init_user_id,
        ))
        self.audit.decided(run_id, "node policy", decision.allowed, decision.reason)
        if not decision.allowed:
            self._finish(run_id, RunStatus.NOT_ALLOWED, reason=decision.reason)
            return
        self._start(claim.run, task, claim.container_token)

    def _to_start(self, run: dict[str, Any], entry: JournalEntry | None) -> bool:
        """Whether this node is to (claim and) start the run it was offered now."""
        run_id = int(run["id"])
        if entry is not None and entry.state not in (LocalState.RECEIVED, LocalState.STARTING):
            return False  # started, finished, uploaded or dropped: never executed again
        if entry is not None and entry.state is LocalState.STARTING:
            job = self._find_managed(run_id)
            if job is not None:  # started, but a failure (a full disk) kept it unrecorded
                if self.adopt(run_id, job):
                    self._report_active(run_id, job.handle)
                return False
        status = RunStatus(run["status"])
        # NOTE: initializing on this node yet unknown to the journal: claimed while not
        # even the journal row fitted, and the report of that failed too. Nothing ran
        # (every start is journaled first), so it is resumed like a journaled claim.
        ours_already = status is RunStatus.INITIALIZING and (
            entry is not None or run.get("node_id") == self.identity.node_id)
        if status is not RunStatus.PENDING and not ours_already:
            return False
        return int(run["organization_id"]) == self.identity.organization_id

    def _journal_new(self, run_id: int, task_id: int) -> bool:
        """Record a run the node has not seen; False when not even its row fits (it is
        then reported as start failed)."""
        try:
            self.journal.receive(run_id, task_id=task_id)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            self._refuse_unjournaled(run_id, disk_full_reason(self.options.task_dir))
            return False
        return True

    def _refuse_unjournaled(self, run_id: int, reason: str) -> None:
        """End a run as "start failed" on the server when not even its journal row fits.

        Why not leave it pending: the researcher would wait without a word. Safe without
        the journal: were the node to die between the claim and the report, the run is
        "initializing" on the server and unknown here, which reconciliation reports as
        start failed at the next start.
        """
        try:
            self.link.claim_run(run_id)
            self.link.patch_run(run_id, {"status": RunStatus.START_FAILED.value,
                                         "reason": reason})
        except (ConflictError, NotFoundError, PermissionDenied):
            return  # not ours to start after all
        log.warning("run %d: start failed (%s)", run_id, reason)

    def _no_room(self) -> str | None:
        """Why the node cannot take a new run now (its disk is nearly full), or None."""
        try:
            check_free_space(self.options.task_dir, self.options.min_free_disk_mb)
        except DiskFullError as exc:
            return exc.message
        return None

    def _replay_reason(self, run_id: int, task: TaskOut) -> str | None:
        """Why the run's input must not be opened (its uid was another task's), or None."""
        uid = task.uid
        if not uid:
            return None
        first = self.journal.record_task_uid(uid, task.id, run_id)
        if first is None:
            return None
        return (f"task uid {uid} was already used by task {first} on this node: "
                "refusing a replayed input")

    def _claim(self, run_id: int) -> RunClaimOut | None:
        """Claim the run (pending -> initializing) with its task and container token.

        None when the run is not ours to start; its journal entry is then dropped.
        Transient failures propagate after the retries: the entry stays "received" and
        the next sweep claims again (a claim that arrived but whose answer was lost is
        simply handed out again).
        """
        try:
            return retry_call(lambda: self.link.claim_run(run_id),
                              backoff=self.backoff, max_attempts=5, stop=self.stop,
                              what=f"run {run_id}: claim", retry_if=is_transient)
        except ConflictError as exc:
            why = f"the server refused the claim (killed or taken): {exc.message}"
        except (NotFoundError, PermissionDenied) as exc:
            why = f"the server refused the claim (not this node's run): {exc.message}"
        if self.journal.abandon(run_id, why):
            self.audit.finished(run_id, self.journal.get(run_id), "abandoned", why)
        log.info("run %d: not started, %s", run_id, why)
        return None

    # -- starting -----------------------------------------------------------------------
    def _start(self, run: RunOut, task: TaskOut, token: str) -> None:
        run_id = run.id
        job_id = task.job_id or task.id
        paths = run_paths(self.options.task_dir, job_id, run_id)
        try:
            self._prepare(run, task, token, paths)
        except V6Error as exc:
            if is_transient(exc):
                log.warning("run %d: start postponed, server unavailable (%s)", run_id, exc)
                return  # stays 'received'; the next sweep resumes it
            self._finish(run_id, RunStatus.START_FAILED, reason=str(exc))
            return
        except OSError as exc:  # e.g. no room for the input: say so instead of hanging
            self._finish(run_id, RunStatus.START_FAILED, reason=self._os_reason(exc))
            return
        spec = JobSpec(
            node_name=self.options.name, run_id=run_id, task_id=task.id, job_id=job_id,
            image=task.image, input_file=paths.input_file,
            output_file=paths.output_file, token_file=paths.token_file,
            temporary_folder=paths.temporary_folder,
            databases=[self._database(d) for d in task.databases],
            proxy_port=self.proxy_port, api_path=self.options.algorithm_api_path,
            environment=dict(self.options.algorithm_env), cpus=self.options.cpus,
            memory=self.options.memory,
        )
        if not self.journal.mark_starting(run_id):
            log.info("run %d: killed while being claimed; not started", run_id)
            self._cleanup(self.journal.get(run_id), None)
            return
        try:
            handle = self.runtime.start(spec)
        except NotFoundError as exc:
            self._finish(run_id, RunStatus.NO_IMAGE, reason=str(exc))
            return
        except (RuntimeUnavailableError, ConflictError) as exc:
            self._finish(run_id, RunStatus.START_FAILED, reason=str(exc))
            return
        except OSError as exc:
            self._finish(run_id, RunStatus.START_FAILED, reason=self._os_reason(exc))
            return
        try:
            recorded = self.journal.mark_started(run_id, handle)
        except Exception:
            # NOTE: a run the journal cannot record (a full disk) must not go on
            # untracked; it stays "starting" and the next sweep starts it afresh
            self.runtime.remove(handle)
            raise
        if not recorded:
            log.info("run %d: killed while starting; stopping it", run_id)
            self.runtime.kill(handle)
            self.runtime.remove(handle)
            return
        log.info("run %d task %d: started (%s)", run_id, task.id, handle)
        try:
            self._report_active(run_id, handle)
        finally:
            # NOTE: a started run is always watched: nothing else would (the sweep
            # resumes only runs without a handle), and the outbox reports "active"
            # itself when this report did not get through
            self.watch(run_id, handle)

    def _os_reason(self, exc: OSError) -> str:
        return disk_full_reason(self.options.task_dir) if is_disk_full(exc) else str(exc)

    def _database(self, requested: dict[str, Any]) -> Any:
        from dataclasses import replace

        db = self.options.databases[requested["label"]]
        return replace(db, query=requested.get("query") or db.query)

    def _prepare(self, run: RunOut, task: TaskOut, token: str, paths: RunPaths) -> None:
        """Key of the result's recipient, input and token files."""
        run_id = run.id
        if self.identity.encrypted:
            if task.init_org_id is None:
                raise EncryptionError(f"task {task.id} has no initiating organization")
            recipient = self.keys.public_key_of(task.init_org_id)
            from v6lib.crypto import public_key_b64

            self.journal.update(run_id, recipient_key=public_key_b64(recipient))
        try:
            blob = base64.b64decode(run.input)
            plain = self.keys.open(blob, TaskBinding.of(task.model_dump()).input(
                self.identity.organization_id)) if self.keys.encrypted else blob
        except EncryptionError as exc:
            raise type(exc)(f"cannot decrypt the run's input: {exc.message}") from exc
        self.audit.input(run_id, plain)
        prepare_run_files(paths, plain, token)
        self.tokens.add(run_id, token)

    def _report_active(self, run_id: int, handle: str) -> None:
        try:
            retry_call(lambda: self.link.patch_run(run_id, {"status": "active"}),
                       backoff=self.backoff, max_attempts=3, stop=self.stop,
                       what=f"run {run_id}: report active", retry_if=is_transient)
        except ConflictError:
            current = self.link.run(run_id).get("status")
            if current == RunStatus.KILLED.value:
                self.kill_run(run_id, "the run was killed before it became active")
            return
        except V6Error as exc:
            log.warning("run %d: 'active' not reported (%s); the outbox will", run_id, exc)
            return  # the outbox reports 'active' before the outcome
        try:
            self.journal.update(run_id, active_reported=True)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            # only saves the outbox a look at the run on the server
            log.warning("run %d: 'active' reported but not journaled (%s)", run_id, exc)

    # -- watching -----------------------------------------------------------------------
    def watch(self, run_id: int, handle: str) -> threading.Thread:
        """Wait for the run's end in a thread; the outcome goes to the journal.

        A run already watched keeps its one watcher (a retried reconciliation asks again).
        """
        current = self.watchers.get(run_id)
        if current is not None and current.is_alive():
            return current
        thread = threading.Thread(target=self._watch, args=(run_id, handle),
                                  name=f"watch-run-{run_id}", daemon=True)
        self.watchers[run_id] = thread
        thread.start()
        return thread

    def _watch(self, run_id: int, handle: str) -> None:
        """Until the run ends; a failure (a full disk, say) is logged and retried, so the
        run's outcome is journaled once the cause is gone."""
        tracker = self.supervisor.tracker(f"watcher of run {run_id}")
        deadline = self._deadline(run_id)
        at_end: dict[str, str | None] = {}  # the disk's state when the run ended, kept
        while not self.stop.is_set():  # through retries (the disk may be freed meanwhile)
            try:
                ended = self._watch_once(run_id, handle, deadline, at_end)
            except Exception as exc:  # a watcher must never die silently
                self.stop.wait(tracker.failed(exc))
                continue
            tracker.succeeded()
            if ended:
                return
        # Node stopping: leave the run; the next start reconciles it.

    def _deadline(self, run_id: int) -> tuple[float, TimeLimit] | None:
        """When (``time.monotonic()``) the run's time is up, and the limit that says so:
        the shorter of the node's and the task's, counted from the run's start as
        journaled (so a restarted node does not grant it the full time again)."""
        entry = self.journal.get(run_id)
        limit = run_time_limit(self.options.max_run_seconds,
                               entry.max_run_seconds if entry is not None else None)
        if limit is None:
            return None
        now = self.journal.now()
        started = entry.started_at if entry is not None and entry.started_at else now
        return (time.monotonic() + limit.seconds - max(0.0, (now - started).total_seconds()),
                limit)

    def _watch_once(self, run_id: int, handle: str,
                    deadline: tuple[float, TimeLimit] | None = None,
                    at_end: dict[str, str | None] | None = None) -> bool:
        """Wait a second for the run's end; True once its outcome is journaled."""
        timeout = 1.0
        if deadline is not None:
            left = deadline[0] - time.monotonic()
            if left <= 0:
                self._time_up(run_id, handle, deadline[1])  # a no-op once journaled
            else:
                timeout = min(timeout, left)
        try:
            info = self.runtime.wait(handle, timeout=timeout)
        except V6Error as exc:
            self._finish(run_id, RunStatus.CRASHED, reason=f"lost the run: {exc}")
            return True
        if info is None:
            return False
        at_end = {} if at_end is None else at_end
        self.complete(run_id, handle, info,
                      no_room=at_end.setdefault("no_room", self._no_room()))
        return True

    def _time_up(self, run_id: int, handle: str, limit: TimeLimit) -> None:
        """End a run that exceeded its time limit: journal the outcome, then stop its
        container or process tree; the watcher then sees it ended and cleans up."""
        reason = limit.reason
        if not self.journal.finish(run_id, RunStatus.FAILED.value, reason=reason):
            return  # ended meanwhile
        self.runtime.kill(handle)
        info = self.runtime.wait(handle, timeout=2.0)  # its log, for the researcher
        if info is not None and info.logs:
            self.journal.update(run_id, log=self._shared_logs(run_id, info.logs))
        self._announce(run_id, RunStatus.FAILED, reason)

    def complete(self, run_id: int, handle: str | None, info: ExitInfo | None, *,
                 no_room: str | None = None) -> None:
        """Turn an ended run into its outcome (exit code, output file) and journal it;
        ``no_room``: why the node's disk was full when the run ended (else checked now)."""
        entry = self.journal.get(run_id)
        if entry is None or not entry.in_flight:
            self._cleanup(entry, handle)
            return
        paths = run_paths(self.options.task_dir, entry.job_id or entry.task_id, run_id)
        logs = self._shared_logs(run_id, info.logs if info is not None else None)
        if info is not None and info.exit_code != 0:
            reason = self.output.failure_reason(paths.output_file)
            self._finish(run_id, RunStatus.FAILED, log=logs,
                         reason=reason or self._exit_reason(info.exit_code, no_room))
        else:
            outcome = self.output.collect(entry, paths.output_file)
            self._audit_disclosure(entry, outcome.status, outcome.reason)
            self._finish(run_id, outcome.status, result=outcome.result, log=logs,
                         reason=outcome.reason, output_digest=outcome.output_digest)
        self._cleanup(self.journal.get(run_id), handle)

    def _exit_reason(self, code: int, no_room: str | None) -> str:
        """Why a run failed, from its exit code; with the state of the node's disk when it
        was (nearly) full at the run's end, since an algorithm that could not write its
        log or files then fails for that, and its own log, on the same disk, may not say
        so."""
        reason = f"algorithm exited with code {code}"
        no_room = no_room or self._no_room()
        return f"{reason} ({no_room})" if no_room else reason

    def _audit_disclosure(self, entry: JournalEntry, status: RunStatus,
                          reason: str | None) -> None:
        if not self.options.disclosure.for_image(entry.image or "").active:
            return
        if status is RunStatus.NOT_ALLOWED:
            self.audit.decided(entry.run_id, "disclosure", False, reason)
        elif status is RunStatus.COMPLETED:
            self.audit.decided(entry.run_id, "disclosure", True, None)

    def _shared_logs(self, run_id: int, logs: str | None) -> str | None:
        """The log the server gets: all of it, without tracebacks
        (``share_algorithm_tracebacks: false``), or none (``share_algorithm_logs: false``)."""
        if logs is None:
            return None
        if self.options.share_algorithm_logs:
            shared = logs if self.options.share_algorithm_tracebacks \
                else without_tracebacks(logs)
            if shared != logs:
                log.info("run %d: algorithm log with its traceback (only the rest is "
                         "shared with the server):\n%s", run_id, logs)
            return shared
        # NOTE: kept where the data owner can read it; the server gets the reason only
        log.info("run %d: algorithm log (not shared with the server):\n%s", run_id, logs)
        return None

    def _cleanup(self, entry: JournalEntry | None, handle: str | None) -> None:
        if handle:
            try:
                self.runtime.remove(handle)
            except V6Error as exc:
                log.warning("could not remove %s: %s", handle, exc)
        if entry is not None and not entry.in_flight:
            self.tokens.discard(entry.run_id)
            job_id = entry.job_id or entry.task_id
            # the job's shared temporary folder goes with its last run on this node
            last = not any((e.job_id or e.task_id) == job_id for e in self.journal.in_flight())
            remove_run_files(run_paths(self.options.task_dir, job_id, entry.run_id),
                             last_of_job=last)

    def _finish(self, run_id: int, status: RunStatus, *, result: bytes | None = None,
                log: str | None = None, reason: str | None = None,
                output_digest: str | None = None) -> None:
        if self.journal.finish(run_id, status.value, result=result, log=log, reason=reason):
            # NOTE: recorded as soon as it is journaled, before the outbox is woken to send
            # it; only a crash between the two lines leaves a run without its entry
            self.audit.finished(run_id, self.journal.get(run_id), status.value, reason,
                                output_digest=output_digest, result=result)
            self._announce(run_id, status, reason)

    def _announce(self, run_id: int, status: RunStatus, reason: str | None) -> None:
        """A journaled outcome: the run's token goes, the outbox delivers it."""
        self.tokens.discard(run_id)
        _log_outcome(run_id, status, reason)
        self.outbox.notify()

    # -- killing ------------------------------------------------------------------------
    def kill_run(self, run_id: int, reason: str = "killed by user") -> None:
        """Journal the kill first, then stop the container (the watcher sees it ended)."""
        entry = self.journal.get(run_id)
        if entry is None or not entry.in_flight:
            return
        self._finish(run_id, RunStatus.KILLED, reason=reason)
        handle = entry.handle or self._find_job(run_id)
        if handle:
            self.runtime.kill(handle)
            log.info("run %d: container %s stopped", run_id, handle)

    def kill_task(self, task_id: int) -> list[int]:
        """Kill every in-flight run of ``task_id`` on this node; returns their ids."""
        killed = [e.run_id for e in self.journal.of_task(task_id) if e.in_flight]
        for run_id in killed:
            self.kill_run(run_id)
        return killed

    def _find_job(self, run_id: int) -> str | None:
        job = self._find_managed(run_id)
        return None if job is None else job.handle

    def _find_managed(self, run_id: int) -> ManagedJob | None:
        for job in self.runtime.list_managed():
            if job.run_id == run_id:
                return job
        return None

    def adopt(self, run_id: int, job: ManagedJob) -> bool:
        """Take charge of the run's container or process found in the runtime (left by a
        previous life of the node, or by a start the journal could not record): watch it
        while it runs, else collect its outcome. True when it is still running."""
        entry = self.journal.get(run_id)
        if entry is not None and entry.state is not LocalState.STARTED:
            self.journal.mark_started(run_id, job.handle)
        if job.running:
            self.watch(run_id, job.handle)
            return True
        self.complete(run_id, job.handle, self.runtime.wait(job.handle, 0))
        return False


def _log_outcome(run_id: int, status: RunStatus, reason: str | None) -> None:
    if status is RunStatus.COMPLETED:
        log.info("run %d: completed; result journaled", run_id)
    else:
        log.warning("run %d: %s%s", run_id, status.value, f" ({reason})" if reason else "")
