"""What the audit trail records of one run, gathered while the executor handles it.

Why apart from :mod:`v6lib.node.audit` (the chain) and the executor (the decisions): the
facts of a run arrive at different steps (the claimed task, the policy decision, the
decrypted input, the output check) and are written as one entry when the run ends, so
the trail has one line per run with everything a data owner asks afterwards: who asked,
what ran on which data, what was decided and why, and digests of what came in and went
out. Facts are kept in memory: after a restart the entry of a run in flight holds what
the journal kept (task, image, initiator), the outcome and the digests it can still take.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from v6lib.node.audit import AuditTrail, now
from v6lib.node.journal import JournalEntry
from v6lib.schemas.task import TaskOut

__all__ = ["RunAudit"]

#: The most input bytes parsed to name the method (a bigger input keeps its digest only).
_METHOD_INPUT_LIMIT = 1024 * 1024


class RunAudit:
    """Collects each run's facts and appends its entry to the trail at the end."""

    def __init__(self, trail: AuditTrail | None) -> None:
        self.trail = trail
        self._facts: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _note(self, run_id: int, **facts: Any) -> None:
        if self.trail is None:
            return
        with self._lock:
            self._facts.setdefault(run_id, {"received_at": now(), "decisions": []}
                                   ).update(facts)

    def received(self, run_id: int, task: TaskOut) -> None:
        """The task as the server handed it out with the claim."""
        self._note(run_id, task_id=task.id, job_id=task.job_id,
                   collaboration_id=task.collaboration_id,
                   init_org_id=task.init_org_id, init_user_id=task.init_user_id,
                   image=task.image, image_digest=_digest_of(task.image),
                   databases=[{"label": d.get("label"), "query": d.get("query")}
                              for d in task.databases])

    def decided(self, run_id: int, check: str, allowed: bool, reason: str | None) -> None:
        """A policy decision (``node policy`` before the start, ``disclosure`` at the end)."""
        if self.trail is None:
            return
        self._note(run_id)
        with self._lock:
            self._facts[run_id]["decisions"].append(
                {"check": check, "allowed": allowed, "reason": reason})

    def input(self, run_id: int, plain: bytes) -> None:
        """The run's decrypted input: its digest and the method it calls."""
        method = None
        if len(plain) <= _METHOD_INPUT_LIMIT:
            try:
                parsed = json.loads(plain)
                method = parsed.get("method") if isinstance(parsed, dict) else None
            except ValueError:
                method = None
        self._note(run_id, input_sha256=hashlib.sha256(plain).hexdigest(),
                   method=method if isinstance(method, str) else None)

    def finished(self, run_id: int, entry: JournalEntry | None, status: str,
                 reason: str | None, *, output_digest: str | None = None,
                 result: bytes | None = None) -> None:
        """Append the run's entry: its facts, outcome and digests."""
        if self.trail is None:
            return
        with self._lock:
            facts = self._facts.pop(run_id, {"decisions": []})
        if entry is not None:
            facts.setdefault("task_id", entry.task_id)
            facts.setdefault("image", entry.image)
            facts.setdefault("init_org_id", entry.init_org_id)
        self.trail.append({
            "run_id": run_id, **facts, "finished_at": now(), "status": status,
            "reason": reason, "output_sha256": output_digest,
            # what the server received: the sealed result in an encrypted collaboration
            "result_sha256": hashlib.sha256(result).hexdigest() if result else None,
        })

    def forget(self, run_id: int) -> None:
        """Drop the facts of a run another node took (nothing ran here)."""
        with self._lock:
            self._facts.pop(run_id, None)


def _digest_of(image: str) -> str | None:
    return "sha256:" + image.split("@sha256:", 1)[1] if "@sha256:" in image else None
