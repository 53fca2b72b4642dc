"""The mock nodes' progress relay: the node's rule and rate limit, delivered to the store.

Why: what a researcher sees of a run's progress on a MockNetwork must be what a
production node lets through, so a report goes through :mod:`v6lib.rules.progress`
(whole percent, never down, the message only where the organization's policies allow
it) and the same :class:`~v6lib.rules.progress.ProgressGate` (one report per second per
run, the latest winning). A report the gate holds back is delivered by a timer, as the
node's own forwarding loop would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from v6lib.mock.store import RunRecord, TaskStore
from v6lib.rules.progress import ProgressGate, progress_report
from v6lib.wrappers.progress import ProgressSink

__all__ = ["MockProgress"]


class MockProgress:
    """Progress of every run of one MockNetwork.

    Args:
        store: where the delivered progress is kept (and read by ``network.runs``).
        messages_allowed: whether an organization's node lets messages through (its
            ``allow_progress_messages`` policy).
    """

    def __init__(self, store: TaskStore, messages_allowed: Callable[[int], bool]) -> None:
        self.store = store
        self.messages_allowed = messages_allowed
        self.gate = ProgressGate()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def sink(self, run: RunRecord) -> ProgressSink:
        """Where ``progress()`` of ``run`` reports go."""
        allowed = self.messages_allowed(run.organization_id)

        def report(fraction: float, message: str) -> None:
            self.gate.offer(run.id, progress_report(fraction, message,
                                                    messages_allowed=allowed))
            if not self.deliver():
                self._deliver_later()

        return report

    def deliver(self) -> bool:
        """Hand every due report to the store; whether nothing is held back any more."""
        for run_id, report in self.gate.due(time.monotonic()):
            self.store.set_progress(self.store.run(run_id), report.fraction, report.message)
        return not self.gate.held()

    def _deliver_later(self) -> None:
        with self._lock:
            if self._timer is not None and self._timer.is_alive():
                return
            self._timer = threading.Timer(self.gate.min_interval, self._tick)
            self._timer.daemon = True
            self._timer.start()

    def _tick(self) -> None:
        with self._lock:
            self._timer = None
        if not self.deliver():
            self._deliver_later()

    def close(self) -> None:
        """Stop the timer (what it still held is not delivered, as on a stopping node)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
