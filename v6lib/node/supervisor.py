"""Keeps the node's background threads alive, visible and bounded in their failures.

Why: an uncaught exception ends a Python thread with a traceback on stderr only. For the
node that meant an outbox that silently stopped uploading after a "disk full" error from
SQLite, or a watcher that left its run "active" for ever. Every thread of the node runs
under a :class:`Supervisor` instead: a failure is logged to the node's log (once per
distinct error, with its traceback; repeats only at debug level), the work is retried
with backoff, and recovery is logged. When one thread keeps failing for longer than
``give_up_after`` seconds the node cannot continue: the supervisor records why and sets
the node's stop event, and the daemon exits non-zero so that its service manager
restarts it with a clean slate (the journal keeps every run). A full disk is the
exception: it is logged and retried for as long as it lasts, since a restart would not
free any space.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from v6lib.node.disk_space import is_disk_full
from v6lib.node.retry import Backoff

__all__ = ["FailureTracker", "Supervisor", "log_uncaught_thread_exceptions"]

log = logging.getLogger(__name__)

#: A restarted target that ran this long before failing again counts as recovered.
HEALTHY_AFTER = 60.0


class FailureTracker:
    """The failure history of one piece of work (a thread, a periodic job).

    Call :meth:`failed` for every failure (it returns how long to wait before retrying)
    and :meth:`succeeded` after every success.
    """

    def __init__(self, supervisor: Supervisor, name: str) -> None:
        self.supervisor = supervisor
        self.name = name
        self.failures = 0
        self._since: float | None = None
        self._last_logged: str | None = None
        self._lock = threading.Lock()  # one tracker may serve a pool of threads

    def failed(self, exc: BaseException) -> float:
        """Log ``exc`` (once per distinct error) and return the delay before a retry.

        A full disk never stops the node: a restart would not free space, and the node
        goes on by itself once there is some again.
        """
        now = self.supervisor.clock()
        description = f"{type(exc).__name__}: {exc}"
        with self._lock:
            if self._since is None or is_disk_full(exc):
                self._since = now
            if description != self._last_logged:
                self._last_logged = description
                log.error("%s failed, retrying with backoff: %s", self.name, description,
                          exc_info=exc)
            else:
                log.debug("%s failed again (%d times): %s", self.name, self.failures + 1,
                          description)
            self.failures += 1
            failing_for, failures = now - self._since, self.failures
        if failing_for >= self.supervisor.give_up_after:
            self.supervisor.give_up(self.name, description, failing_for)
        return self.supervisor.backoff.delay(failures - 1)

    def succeeded(self) -> None:
        """Forget the failures; log the recovery if there were any."""
        with self._lock:
            if self.failures:
                log.info("%s recovered after %d failed attempts", self.name, self.failures)
            self.failures = 0
            self._since = None
            self._last_logged = None


class Supervisor:
    """Runs the node's threads; see the module docstring.

    Args:
        stop: the node's stop event (set when the node must stop, also by :meth:`give_up`).
        backoff: delays between retries of a failing thread.
        give_up_after: seconds of uninterrupted failure after which the node stops.
        clock: monotonic seconds (injected in tests).
    """

    def __init__(self, stop: threading.Event, *, backoff: Backoff | None = None,
                 give_up_after: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stop = stop
        self.backoff = backoff or Backoff(base=0.5, max_delay=30.0)
        self.give_up_after = give_up_after
        self.clock = clock
        self.fatal: str | None = None
        self._lock = threading.Lock()

    def tracker(self, name: str) -> FailureTracker:
        """A fresh failure history for the work called ``name`` (as it appears in logs)."""
        return FailureTracker(self, name)

    def give_up(self, name: str, description: str, seconds: float) -> None:
        """The node cannot continue: record why and stop it (the daemon exits non-zero)."""
        with self._lock:
            if self.fatal is None:
                self.fatal = (f"{name} kept failing for {seconds:.0f} s ({description}); "
                              "the node stops so that its service manager restarts it")
                log.critical("%s", self.fatal)
        self.stop.set()

    def spawn(self, target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
        """Run ``target(*args)`` in a daemon thread, restarting it whenever it raises.

        A target that returns is done; one that raises is logged and called again after
        a backoff delay, until the stop event is set.
        """
        thread = threading.Thread(target=self._keep_running, args=(target, args, name),
                                  name=name, daemon=True)
        thread.start()
        return thread

    def _keep_running(self, target: Callable[..., Any], args: tuple[Any, ...],
                      name: str) -> None:
        tracker = self.tracker(f"thread {name}")
        while not self.stop.is_set():
            started = self.clock()
            try:
                target(*args)
                return
            except Exception as exc:  # the point: no thread dies silently
                if self.clock() - started >= HEALTHY_AFTER:
                    tracker.succeeded()
                delay = tracker.failed(exc)
            self.stop.wait(delay)


def log_uncaught_thread_exceptions() -> None:
    """Send an exception that ends any thread to the node's log, not to stderr only.

    A safety net for threads the supervisor does not run (those of the proxy's server,
    of libraries): installed once by the node's command.
    """

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "unknown"
        log.error("thread %s ended by an uncaught exception", name,
                  exc_info=args.exc_value if args.exc_value is not None else False)

    threading.excepthook = hook
