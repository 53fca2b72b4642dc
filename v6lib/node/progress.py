"""The node's side of progress: take an algorithm's report, reduce it, forward it.

Why here and not in the proxy's forwarding: a progress report is the one thing an
algorithm sends out *while* it runs, outside the result's disclosure control, so the
node itself decides what leaves (:mod:`v6lib.rules.progress`: whole percent, never down,
a message only with the ``allow_progress_messages`` policy) and how often (one report
per run per second, the latest winning). The proxy hands each ``POST /progress`` to
:meth:`ProgressRelay.receive` and never forwards it itself; :meth:`run_forever` sends
what is due to ``POST /run/{id}/progress``.

A report the server cannot take (the run ended, the server is away) is dropped, not
retried: the next report, or the run's final status, says more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from v6lib.errors import ConflictError, NotFoundError, PermissionDenied, V6Error, ValidationError
from v6lib.node.run_tokens import RunTokens
from v6lib.rules.progress import ProgressGate, ProgressReport, progress_report

__all__ = ["ProgressRelay"]

log = logging.getLogger(__name__)

#: Seconds between two looks for reports that are due.
TICK = 0.25

Send = Callable[[int, ProgressReport], Any]


class ProgressRelay:
    """Progress of this node's runs, from their containers to the server.

    Args:
        tokens: the container tokens of the runs in flight (who is reporting).
        send: forwards one run's report to the server (``ServerLink.post_progress``).
        messages_allowed: the node's ``allow_progress_messages`` policy.
        clock: monotonic seconds (injected for tests).
    """

    def __init__(self, tokens: RunTokens, send: Send, *, messages_allowed: bool,
                 gate: ProgressGate | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tokens = tokens
        self.send = send
        self.messages_allowed = messages_allowed
        self.gate = gate or ProgressGate()
        self.clock = clock

    def receive(self, token: str, body: Any) -> ProgressReport:
        """Take one report of the run whose container token is ``token``.

        Raises:
            PermissionDenied: ``token`` is not that of a run in flight on this node.
            ValidationError: ``body`` is not ``{"progress": number, "message": text}``.
        """
        run_id = self.tokens.run_of(token)
        if run_id is None:
            raise PermissionDenied("progress is accepted only from a run in flight")
        if not isinstance(body, dict) or "progress" not in body:
            raise ValidationError("POST /progress needs a JSON object with 'progress' "
                                  "(0 to 1) and optionally 'message'",
                                  details={"field": "progress"})
        report = progress_report(body["progress"], body.get("message", ""),
                                 messages_allowed=self.messages_allowed)
        return self.gate.offer(run_id, report)

    def flush(self) -> int:
        """Forward every report that is due; how many were sent."""
        sent = 0
        for run_id, report in self.gate.due(self.clock()):
            try:
                self.send(run_id, report)
                sent += 1
            except (ConflictError, NotFoundError, PermissionDenied):
                self.gate.forget(run_id)  # the run ended or is no longer ours
            except V6Error as exc:
                log.debug("run %d: progress not forwarded (%s)", run_id, exc)
        return sent

    def run_forever(self, stop: threading.Event) -> None:
        """Forward due reports until ``stop`` is set."""
        while not stop.wait(TICK):
            self.flush()
