"""Delivers journaled run outcomes to the server, exactly once, surviving crashes and outages.

Why: a result exists only on this node until the server confirms it. The outbox reads
finished entries from the :class:`~v6lib.node.journal.Journal`, sends them with the
idempotent ``PATCH /run/{id}`` and marks them uploaded only after a 2xx. A 409 is
interpreted by looking at the run on the server: the same terminal status means an
earlier attempt already arrived; a killed run is dropped with a log line; a run the
server still sees as pending/initializing first gets the missing intermediate states.
Big outcomes, kept as files (:mod:`v6lib.node.result_files`), are first sent with the
streaming, idempotent ``PUT /run/{id}/result``; the PATCH then carries no result.
Server outages are retried with backoff for as long as it takes. Between rounds it also
prunes the journal (:meth:`Journal.prune`) every ``prune_interval`` seconds, so done
entries do not pile up on disk.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from v6lib.errors import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ServerUnavailableError,
    V6Error,
    ValidationError,
)
from v6lib.node.journal import Journal, JournalEntry
from v6lib.node.result_files import upload_result_file
from v6lib.node.retry import Backoff
from v6lib.node.server_link import ServerLink
from v6lib.schemas.run_status import RunStatus

__all__ = ["Outbox"]

log = logging.getLogger(__name__)

# Terminal statuses the server accepts only from "active".
_NEEDS_ACTIVE = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CRASHED, RunStatus.UNEXPECTED_OUTPUT}
)


class Outbox:
    """Uploads finished runs; run :meth:`run_forever` in a thread or call :meth:`flush`.

    Args:
        journal: where finished outcomes wait.
        link: the node's server connection.
        backoff: delays between rounds while the server is unreachable.
        rng: randomness for the jitter (injected in tests).
        prune_interval: seconds between journal prunes in :meth:`run_forever` (the first
            comes right after the first round).
    """

    def __init__(
        self,
        journal: Journal,
        link: ServerLink,
        *,
        backoff: Backoff | None = None,
        rng: Callable[[], float] | None = None,
        prune_interval: float = 3600.0,
    ) -> None:
        self.journal = journal
        self.link = link
        self.backoff = backoff or Backoff(base=0.5, max_delay=30.0)
        self._rng = rng
        self._wake = threading.Event()
        self.delivered: list[int] = []
        self.prune_interval = prune_interval
        self._last_prune: float | None = None

    def notify(self) -> None:
        """Wake the uploader: a new outcome was journaled."""
        self._wake.set()

    def flush(self) -> bool:
        """Try every waiting entry once; True when none is left waiting for the server."""
        all_done = True
        for entry in self.journal.to_upload():
            try:
                self.deliver(entry)
            except ServerUnavailableError as exc:
                self.journal.record_attempt(entry.run_id, str(exc))
                log.warning("run %d: upload postponed, server unreachable", entry.run_id)
                return False
            except V6Error as exc:
                self.journal.record_attempt(entry.run_id, str(exc))
                log.error("run %d: upload failed, will retry: %s", entry.run_id, exc)
                all_done = False
        return all_done

    def run_forever(self, stop: threading.Event) -> None:
        """Upload until ``stop`` is set; back off while the server is away."""
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            ok = self.flush()
            self.maybe_prune()
            if ok:
                failures = 0
                self._wake.wait(5.0)  # periodic sweep as a safety net
            else:
                delay = (self.backoff.delay(failures, self._rng) if self._rng
                         else self.backoff.delay(failures))
                failures += 1
                self._wake.wait(delay)
            if stop.is_set():
                return

    def maybe_prune(self) -> int:
        """Prune the journal when ``prune_interval`` has passed; how many rows went.

        A failing prune is logged and tried again next interval: it must never stop
        uploads.
        """
        now = time.monotonic()
        if self._last_prune is not None and now - self._last_prune < self.prune_interval:
            return 0
        self._last_prune = now
        try:
            return self.journal.prune()
        except (SQLAlchemyError, sqlite3.Error) as exc:
            log.error("journal prune failed, will retry in %.0f s: %s",
                      self.prune_interval, exc)
            return 0

    # -- one entry ----------------------------------------------------------------------
    def _body(self, entry: JournalEntry) -> dict[str, object]:
        body: dict[str, object] = {"status": entry.status}
        if entry.result is not None:
            body["result"] = base64.b64encode(entry.result).decode("ascii")
        if entry.log is not None:
            body["log"] = entry.log
        if entry.reason is not None:
            body["reason"] = entry.reason
        return body

    def deliver(self, entry: JournalEntry) -> None:
        """Send one outcome; marks it uploaded or dropped, or raises to retry later."""
        status = entry.outcome
        try:
            if status in _NEEDS_ACTIVE and not entry.active_reported:
                self._ensure_active(entry)
            self._upload_file(entry)
            self.link.patch_run(entry.run_id, self._body(entry))
        except ConflictError:
            self._resolve_conflict(entry, status)
            return
        except NotFoundError:
            self._drop(entry, "the server no longer knows this run (task deleted?)")
            return
        except (ValidationError, PayloadTooLargeError) as exc:
            self._downgrade(entry, exc)
            return
        self._uploaded(entry)

    def _upload_file(self, entry: JournalEntry) -> None:
        """PUT a big outcome kept as a file, streamed, before its status is reported.

        Resending it is harmless (the server keeps identical bytes as they are), so a
        crash anywhere between this upload and :meth:`_uploaded` is recovered by simply
        delivering the entry again.
        """
        files = self.journal.results
        if files is None or not files.exists(entry.run_id):
            return
        try:
            upload_result_file(self.link.transport, entry.run_id, files.path(entry.run_id))
        except NotFoundError:
            self.link.run(entry.run_id)  # NotFoundError again: the run is gone (dropped)
            raise V6Error(f"run {entry.run_id}: the server does not accept raw results "
                          "(PUT /run/{id}/result); upgrade it, the result waits") from None

    def _uploaded(self, entry: JournalEntry) -> None:
        self.journal.mark_uploaded(entry.run_id)
        self.delivered.append(entry.run_id)
        log.info("run %d task %d: delivered status '%s'", entry.run_id, entry.task_id,
                 entry.status)

    def _drop(self, entry: JournalEntry, why: str) -> None:
        self.journal.mark_dropped(entry.run_id, why)
        log.warning("run %d task %d: outcome '%s' dropped: %s", entry.run_id, entry.task_id,
                    entry.status, why)

    def _ensure_active(self, entry: JournalEntry) -> None:
        """Report the intermediate states the server must see before a result."""
        current = RunStatus(self.link.run(entry.run_id)["status"])
        steps = {RunStatus.PENDING: [RunStatus.INITIALIZING, RunStatus.ACTIVE],
                 RunStatus.INITIALIZING: [RunStatus.ACTIVE]}.get(current, [])
        for step in steps:
            try:
                self.link.patch_run(entry.run_id, {"status": step.value})
            except ConflictError:
                break
        self.journal.update(entry.run_id, active_reported=True)

    def _resolve_conflict(self, entry: JournalEntry, status: RunStatus) -> None:
        current = RunStatus(self.link.run(entry.run_id)["status"])
        if current == status:
            self._uploaded(entry)  # an earlier attempt arrived; the server confirms it
        elif current == RunStatus.KILLED:
            self._drop(entry, "the run was killed on the server")
        elif current in (RunStatus.PENDING, RunStatus.INITIALIZING, RunStatus.ACTIVE):
            # The server missed an intermediate state; report it, then try again later.
            self.journal.update(entry.run_id, active_reported=False)
            self._ensure_active(self.journal.get(entry.run_id) or entry)
            raise ConflictError(f"run {entry.run_id} was '{current}'; retrying")
        else:
            self._drop(entry, f"the server already holds terminal status '{current}'")

    def _downgrade(self, entry: JournalEntry, exc: V6Error) -> None:
        """The server refuses the payload itself: tell the researcher instead of retrying."""
        if entry.outcome not in _NEEDS_ACTIVE or (
            entry.status == RunStatus.FAILED.value and entry.result is None
        ):
            self._drop(entry, f"the server refused the outcome: {exc}")
            return
        reason = f"the server refused the run's result: {exc}"
        if self.journal.results is not None:
            self.journal.results.discard(entry.run_id)
        log.error("run %d: %s; reporting it as failed", entry.run_id, reason)
        self.journal.update(entry.run_id, status=RunStatus.FAILED.value, result=None,
                            reason=reason)
        self.deliver(self.journal.get(entry.run_id) or entry)
