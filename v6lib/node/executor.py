"""Runs one run from "pending" to a journaled outcome: check, prepare, start, watch, finish.

Why separate from the daemon loop: this is the node's decision logic (policy refusal,
start failures, exit codes, output checks, kills), tested with a fake runtime and a
fake server. Every step is journaled before it is acted upon; outcomes are never sent
from here but handed to the :class:`~v6lib.node.outbox.Outbox`, which delivers them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from v6lib.crypto import Binding, TaskBinding, load_public_key_pem
from v6lib.errors import (
    ConflictError,
    EncryptionError,
    NotFoundError,
    PermissionDenied,
    RuntimeUnavailableError,
    V6Error,
)
from v6lib.node.journal import Journal, JournalEntry, LocalState
from v6lib.node.keys import NodeKeys
from v6lib.node.options import NodeOptions
from v6lib.node.outbox import Outbox
from v6lib.node.result_files import BIG_RESULT_BYTES, json_file_problem
from v6lib.node.retry import Backoff, is_transient, retry_call
from v6lib.node.runtime.base import ContainerRuntime, ExitInfo, JobSpec
from v6lib.node.server_link import ServerLink
from v6lib.rules.failures import FAILURE_RECORD_LIMIT, read_failure_record
from v6lib.rules.node_policy import RunRequest, evaluate
from v6lib.schemas.run_status import RunStatus

__all__ = ["Identity", "RunExecutor", "run_paths"]

log = logging.getLogger(__name__)
GONE_REASON = "node restarted and the run's container was gone"


@dataclass(frozen=True)
class Identity:
    """Who this node is on the server."""

    node_id: int
    organization_id: int
    collaboration_id: int
    encrypted: bool


@dataclass(frozen=True)
class RunPaths:
    run_dir: Path
    input_file: Path
    output_file: Path
    token_file: Path
    temporary_folder: Path


def run_paths(task_dir: Path, job_id: int, run_id: int) -> RunPaths:
    """Where a run's files live: ``<task_dir>/jobs/<job>/<run>/``; tmp shared per job."""
    job_dir = Path(task_dir) / "jobs" / str(job_id)
    run_dir = job_dir / str(run_id)
    return RunPaths(run_dir, run_dir / "input", run_dir / "output", run_dir / "token",
                    job_dir / "tmp")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


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
        if entry is not None and entry.state not in (LocalState.RECEIVED, LocalState.STARTING):
            return  # started, finished, uploaded or dropped: never executed again
        if entry is not None and entry.state is LocalState.STARTING and self._find_job(run_id):
            return  # a container exists; reconciliation owns it
        status = RunStatus(run["status"])
        ours_already = entry is not None and status is RunStatus.INITIALIZING
        if status is not RunStatus.PENDING and not ours_already:
            return
        if int(run["organization_id"]) != self.identity.organization_id:
            return
        if entry is None:
            # Journaled before the server hears of it: a restart finds the entry and
            # claims again (the server hands a run this node initializes out again).
            self.journal.receive(run_id, task_id=int(run["task_id"]))
        claim = self._claim(run_id)
        if claim is None:
            return
        task = claim["task"]
        self.journal.update(run_id, job_id=task.get("job_id") or task["id"],
                            task_uid=task.get("uid"), image=str(task["image"]),
                            init_org_id=task.get("init_org_id"))
        log.info("run %d task %d: claimed (image %s)", run_id, task["id"], task["image"])
        decision = evaluate(self.options.policy, RunRequest(
            image=str(task["image"]),
            database_labels=[d["label"] for d in task.get("databases") or []],
            collaboration_id=int(task["collaboration_id"]),
            collaboration_encrypted=self.identity.encrypted,
            init_org_id=task.get("init_org_id"), init_user_id=task.get("init_user_id"),
        ))
        if not decision.allowed:
            self._finish(run_id, RunStatus.NOT_ALLOWED, reason=decision.reason)
            return
        self._start(claim["run"], task, str(claim["container_token"]))

    def _claim(self, run_id: int) -> dict[str, Any] | None:
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
        self.journal.abandon(run_id, why)
        log.info("run %d: not started, %s", run_id, why)
        return None

    # -- starting -----------------------------------------------------------------------
    def _start(self, run: dict[str, Any], task: dict[str, Any], token: str) -> None:
        run_id = int(run["id"])
        job_id = int(task.get("job_id") or task["id"])
        paths = run_paths(self.options.task_dir, job_id, run_id)
        try:
            self._prepare(run, task, token, paths)
        except V6Error as exc:
            if is_transient(exc):
                log.warning("run %d: start postponed, server unavailable (%s)", run_id, exc)
                return  # stays 'received'; the next sweep resumes it
            self._finish(run_id, RunStatus.START_FAILED, reason=str(exc))
            return
        spec = JobSpec(
            node_name=self.options.name, run_id=run_id, task_id=int(task["id"]), job_id=job_id,
            image=str(task["image"]), input_file=paths.input_file,
            output_file=paths.output_file, token_file=paths.token_file,
            temporary_folder=paths.temporary_folder,
            databases=[self._database(d) for d in task.get("databases") or []],
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
        except (RuntimeUnavailableError, ConflictError, OSError) as exc:
            self._finish(run_id, RunStatus.START_FAILED, reason=str(exc))
            return
        if not self.journal.mark_started(run_id, handle):
            log.info("run %d: killed while starting; stopping it", run_id)
            self.runtime.kill(handle)
            self.runtime.remove(handle)
            return
        log.info("run %d task %d: started (%s)", run_id, task["id"], handle)
        self._report_active(run_id, handle)
        self.watch(run_id, handle)

    def _database(self, requested: dict[str, Any]) -> Any:
        from dataclasses import replace

        db = self.options.databases[requested["label"]]
        return replace(db, query=requested.get("query") or db.query)

    def _prepare(self, run: dict[str, Any], task: dict[str, Any], token: str,
                 paths: RunPaths) -> None:
        """Key of the result's recipient, input and token files."""
        run_id = int(run["id"])
        if self.identity.encrypted:
            init_org = task.get("init_org_id")
            if init_org is None:
                raise EncryptionError(f"task {task['id']} has no initiating organization")
            recipient = self.keys.public_key_of(int(init_org))
            from v6lib.crypto import public_key_b64

            self.journal.update(run_id, recipient_key=public_key_b64(recipient))
        try:
            blob = base64.b64decode(run.get("input") or "")
            plain = self.keys.open(blob, TaskBinding.of(task).input(
                self.identity.organization_id)) if self.keys.encrypted else blob
        except EncryptionError as exc:
            raise type(exc)(f"cannot decrypt the run's input: {exc.message}") from exc
        paths.run_dir.mkdir(parents=True, exist_ok=True)
        paths.temporary_folder.mkdir(parents=True, exist_ok=True)
        paths.output_file.unlink(missing_ok=True)
        _write_private(paths.input_file, plain)
        _write_private(paths.token_file, token.encode("ascii"))

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
        self.journal.update(run_id, active_reported=True)

    # -- watching -----------------------------------------------------------------------
    def watch(self, run_id: int, handle: str) -> threading.Thread:
        """Wait for the run's end in a thread; the outcome goes to the journal."""
        thread = threading.Thread(target=self._watch, args=(run_id, handle),
                                  name=f"watch-run-{run_id}", daemon=True)
        self.watchers[run_id] = thread
        thread.start()
        return thread

    def _watch(self, run_id: int, handle: str) -> None:
        while not self.stop.is_set():
            try:
                info = self.runtime.wait(handle, timeout=1.0)
            except V6Error as exc:
                self._finish(run_id, RunStatus.CRASHED, reason=f"lost the run: {exc}")
                return
            if info is not None:
                self.complete(run_id, handle, info)
                return
        # Node stopping: leave the run; the next start reconciles it.

    def complete(self, run_id: int, handle: str | None, info: ExitInfo | None) -> None:
        """Turn an ended run into its outcome (exit code, output file) and journal it."""
        entry = self.journal.get(run_id)
        if entry is None or not entry.in_flight:
            self._cleanup(entry, handle)
            return
        paths = run_paths(self.options.task_dir, entry.job_id or entry.task_id, run_id)
        logs = self._shared_logs(run_id, info.logs if info is not None else None)
        if info is not None and info.exit_code != 0:
            reason = read_failure_record(_read_small(paths.output_file, FAILURE_RECORD_LIMIT))
            self._finish(run_id, RunStatus.FAILED, log=logs,
                         reason=reason or f"algorithm exited with code {info.exit_code}")
        else:
            status, result, reason = self._read_output(entry, paths.output_file)
            self._finish(run_id, status, result=result, log=logs, reason=reason)
        self._cleanup(self.journal.get(run_id), handle)

    def _shared_logs(self, run_id: int, logs: str | None) -> str | None:
        """The log the server gets: all of it, or none (``share_algorithm_logs: false``)."""
        if logs is None or self.options.share_algorithm_logs:
            return logs
        # NOTE: kept where the data owner can read it; the server gets the reason only
        log.info("run %d: algorithm log (not shared with the server):\n%s", run_id, logs)
        return None

    def _read_output(self, entry: JournalEntry, output: Path
                     ) -> tuple[RunStatus, bytes | None, str | None]:
        try:
            size = output.stat().st_size
        except FileNotFoundError:
            return RunStatus.UNEXPECTED_OUTPUT, None, "the algorithm wrote no output file"
        if self.journal.results is not None and size > BIG_RESULT_BYTES:
            return self._keep_big_output(entry, output)
        try:
            data = output.read_bytes()
        except FileNotFoundError:
            return RunStatus.UNEXPECTED_OUTPUT, None, "the algorithm wrote no output file"
        problem = _json_problem(data)
        if problem:
            return RunStatus.UNEXPECTED_OUTPUT, None, f"the output file is not JSON: {problem}"
        if not self.identity.encrypted:
            return RunStatus.COMPLETED, data, None
        try:
            recipient = load_public_key_pem(entry.recipient_key or "")
            binding = _result_binding(entry, self.identity.organization_id)
            return RunStatus.COMPLETED, self.keys.seal_with(data, recipient, binding), None
        except EncryptionError as exc:
            return RunStatus.FAILED, None, f"cannot encrypt the result: {exc}"

    def _keep_big_output(self, entry: JournalEntry, output: Path
                         ) -> tuple[RunStatus, bytes | None, str | None]:
        """Seal (or copy) a big output by streaming into the journal's result files.

        Never read into memory as a whole; the outbox uploads the file with a streaming
        PUT. It is durable before the outcome is journaled, so a crash in between only
        means doing this again.
        """
        files = self.journal.results
        assert files is not None
        problem = json_file_problem(output)
        if problem:
            return RunStatus.UNEXPECTED_OUTPUT, None, f"the output file is not JSON: {problem}"
        try:
            if self.identity.encrypted and self.keys.encrypted:
                recipient = load_public_key_pem(entry.recipient_key or "")
                binding = _result_binding(entry, self.identity.organization_id)
                files.store(entry.run_id, output, recipient=recipient, binding=binding)
            else:
                files.store(entry.run_id, output)
        except EncryptionError as exc:
            return RunStatus.FAILED, None, f"cannot encrypt the result: {exc}"
        except OSError as exc:
            return RunStatus.FAILED, None, f"cannot keep the result for upload: {exc}"
        return RunStatus.COMPLETED, None, None

    def _cleanup(self, entry: JournalEntry | None, handle: str | None) -> None:
        if handle:
            try:
                self.runtime.remove(handle)
            except V6Error as exc:
                log.warning("could not remove %s: %s", handle, exc)
        if entry is not None and not entry.in_flight:
            job_id = entry.job_id or entry.task_id
            paths = run_paths(self.options.task_dir, job_id, entry.run_id)
            shutil.rmtree(paths.run_dir, ignore_errors=True)
            if not any((e.job_id or e.task_id) == job_id for e in self.journal.in_flight()):
                # the job's shared temporary folder goes with its last run on this node
                shutil.rmtree(paths.temporary_folder.parent, ignore_errors=True)

    def _finish(self, run_id: int, status: RunStatus, *, result: bytes | None = None,
                log: str | None = None, reason: str | None = None) -> None:
        if self.journal.finish(run_id, status.value, result=result, log=log, reason=reason):
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
        for job in self.runtime.list_managed():
            if job.run_id == run_id:
                return job.handle
        return None


def _read_small(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file the container left, or b"".

    Never through a link, never blocking on a FIFO (the container is not trusted).
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return os.read(fd, limit + 1)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _result_binding(entry: JournalEntry, organization_id: int) -> Binding:
    """The binding of this node's result, from what the journal kept of its task."""
    task = TaskBinding.of({"id": entry.task_id, "uid": entry.task_uid, "image": entry.image,
                           "init_org_id": entry.init_org_id})
    return task.result(organization_id)


FULL_CHECK_LIMIT = 64 * 1024 * 1024
_CLOSERS = {ord("{"): ord("}"), ord("["): ord("]"), ord('"'): ord('"')}


def _json_problem(data: bytes) -> str | None:
    """Why ``data`` is not a JSON document, or None.

    Outputs up to 64 MiB are parsed; larger ones only have their outer brackets checked,
    because parsing would hold the result many times over in memory (the server and the
    researcher's client decode it anyway).
    """
    if len(data) <= FULL_CHECK_LIMIT:
        try:
            json.loads(data)
        except ValueError as exc:
            return str(exc)
        return None
    head, tail = data[:64].lstrip(), data[-64:].rstrip()
    if not head or not tail or _CLOSERS.get(head[0]) != tail[-1]:
        return "a large output must be a JSON object, array or string"
    return None


def _log_outcome(run_id: int, status: RunStatus, reason: str | None) -> None:
    if status is RunStatus.COMPLETED:
        log.info("run %d: completed; result journaled", run_id)
    else:
        log.warning("run %d: %s%s", run_id, status.value, f" ({reason})" if reason else "")
