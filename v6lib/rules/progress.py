"""What an algorithm's progress report may carry out of a node, and how often.

Why a rule of its own: progress leaves the node while the run is still going, outside
the result's disclosure control, so an algorithm could try to smuggle data values out
through it (a fraction of 0.4321 that is really a mean; a message that is a row). The
node, the server and the MockNetwork all reduce a report with these functions, so what a
researcher sees on the mock is exactly what a production node lets through:

* the fraction is clamped to [0, 1] and rounded to a whole percent (101 values);
* it never goes down within a run (a lower value keeps the higher one), so over a whole
  run the fraction can only say "how far" in at most 100 steps;
* the message is dropped unless the node operator allows messages; when allowed it keeps
  only letters, digits, spaces and ``.,:;/()%+-_#`` and at most :data:`MESSAGE_LIMIT`
  characters;
* the node forwards at most one report per run per :data:`MIN_INTERVAL` seconds, the
  latest one winning (:class:`ProgressGate`).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

from v6lib.errors import ValidationError

__all__ = ["MESSAGE_LIMIT", "MIN_INTERVAL", "ProgressGate", "ProgressReport",
           "clean_message", "merge", "progress_report"]

#: Longest progress message that leaves a node.
MESSAGE_LIMIT = 80
#: Seconds between two reports of one run the node forwards.
MIN_INTERVAL = 1.0
_DISALLOWED = re.compile(r"[^A-Za-z0-9 .,:;/()%+\-_#]")


@dataclass(frozen=True)
class ProgressReport:
    """A run's progress as it may leave the node: whole percent and a cleaned message."""

    percent: int
    message: str = ""

    @property
    def fraction(self) -> float:
        """The percent as the API's fraction (0.0 to 1.0, two decimals at most)."""
        return self.percent / 100


def clean_message(message: Any) -> str:
    """``message`` reduced to the allowed characters and length (other characters gone).

    Raises:
        ValidationError: ``message`` is not a string.
    """
    if message is None:
        return ""
    if not isinstance(message, str):
        raise ValidationError(f"progress message must be text, got {type(message).__name__}",
                              details={"field": "message"})
    return _DISALLOWED.sub("", message)[:MESSAGE_LIMIT].strip()


def progress_report(fraction: Any, message: Any = "", *,
                    messages_allowed: bool) -> ProgressReport:
    """The report that may leave for ``fraction`` and ``message``.

    Raises:
        ValidationError: ``fraction`` is not a finite number or ``message`` not text.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) \
            or not math.isfinite(fraction):
        raise ValidationError(f"progress must be a number from 0 to 1, got {fraction!r}",
                              details={"field": "progress"})
    percent = round(min(1.0, max(0.0, float(fraction))) * 100)
    text = clean_message(message)
    return ProgressReport(percent, text if messages_allowed else "")


def merge(previous: ProgressReport | None, new: ProgressReport) -> ProgressReport:
    """``new`` as the run's progress after ``previous``: the percent never goes down."""
    if previous is None or new.percent >= previous.percent:
        return new
    return ProgressReport(previous.percent, new.message)


@dataclass
class _RunState:
    latest: ProgressReport
    sent: ProgressReport | None = None
    sent_at: float | None = None


class ProgressGate:
    """Per run: the latest report, and which reports are due to be forwarded.

    Thread-safe; the caller passes the time (``time.monotonic()``), so tests need no
    sleeping. A report that is no news (same percent and message as the last one sent)
    is never due.
    """

    def __init__(self, min_interval: float = MIN_INTERVAL) -> None:
        self.min_interval = min_interval
        self._runs: dict[int, _RunState] = {}
        self._lock = threading.Lock()

    def offer(self, run_id: int, report: ProgressReport) -> ProgressReport:
        """Record ``report`` for ``run_id``; returns the run's progress after it."""
        with self._lock:
            state = self._runs.get(run_id)
            if state is None:
                self._runs[run_id] = state = _RunState(report)
            else:
                state.latest = merge(state.latest, report)
            return state.latest

    def due(self, now: float, *, flush: bool = False) -> list[tuple[int, ProgressReport]]:
        """The reports to forward now (marked as sent); ``flush`` ignores the interval."""
        ready = []
        with self._lock:
            for run_id, state in self._runs.items():
                if state.latest == state.sent:
                    continue
                if not flush and state.sent_at is not None \
                        and now - state.sent_at < self.min_interval:
                    continue
                state.sent, state.sent_at = state.latest, now
                ready.append((run_id, state.latest))
        return ready

    def held(self) -> bool:
        """Whether some run has a report not forwarded yet."""
        with self._lock:
            return any(state.latest != state.sent for state in self._runs.values())

    def forget(self, run_id: int) -> None:
        """Drop a finished run's state (what it had not sent yet is not sent)."""
        with self._lock:
            self._runs.pop(run_id, None)
