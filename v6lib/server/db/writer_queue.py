"""One queue of SQLite writers: first come, first served, in and across worker processes.

SQLite lets one transaction write at a time. Left to itself, a writer that finds the
lock taken sleeps and retries (``busy_timeout``: 1, 2, 5 ... 100 ms naps), so whoever
retries at the right moment wins and an unlucky request waits for many others: at 8
concurrent clients p95 was 15x p50. Writers here instead take a ticket in their process
and are woken in ticket order; the head of each process's queue then takes an exclusive
``flock`` on a file beside the database, shared with the other gunicorn workers and
tried every half millisecond (no longer naps of up to 100 ms). The turn is held from
``BEGIN IMMEDIATE`` until that transaction's COMMIT or ROLLBACK has run
(``QueuedConnection``), not until the connection is closed: a result upload keeps one
connection for many short transactions and must not hold other writers up in between.

A writer that waits longer than ``timeout`` gives up its place and goes on to
``BEGIN IMMEDIATE`` alone, exactly as without the queue.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

from v6lib.private_files import PRIVATE_FILE_MODE

__all__ = ["QueuedConnection", "WriterQueue"]

# NOTE: the cross-process lock is tried again at this interval; only the head of each
# process's queue tries, so at most one thread per worker does
_RETRY_SECONDS = 0.0005


class WriterQueue:
    """A first-come-first-served write lock for one SQLite file, shared with other
    processes through ``lock_path``."""

    def __init__(self, lock_path: Path, timeout: float = 30.0) -> None:
        self.lock_path = lock_path
        self.timeout = timeout
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self._fd: int | None = None
        self._pid = 0  # the process that opened ``_fd``

    def acquire(self) -> bool:
        """Wait for our turn; ``False`` if it did not come within the timeout."""
        deadline = time.monotonic() + self.timeout
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while self._serving != ticket:
                left = deadline - time.monotonic()
                if left <= 0 or (not self._cond.wait(left) and self._serving != ticket):
                    self._abandoned.add(ticket)
                    return False
        if self._lock_file(deadline):
            return True
        self._advance()
        return False

    def release(self) -> None:
        """End our turn: the other processes, then the next ticket, may write."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._advance()

    def _advance(self) -> None:
        with self._cond:
            self._serving += 1
            while self._serving in self._abandoned:
                self._abandoned.discard(self._serving)
                self._serving += 1
            self._cond.notify_all()

    def _lock_file(self, deadline: float) -> bool:
        if self._fd is None or self._pid != os.getpid():
            # NOTE: opened per process: after a fork both would share one lock
            # NOTE: 0600 and never through a symlink: another local user must not be
            # able to hold the server's writers up by locking this file
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                               PRIVATE_FILE_MODE)
            self._pid = os.getpid()
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(_RETRY_SECONDS)


class QueuedConnection(sqlite3.Connection):
    """A SQLite connection that ends its writer's turn as its transaction ends."""

    turn: WriterQueue | None = None

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()

    def end_turn(self) -> None:
        turn, self.turn = self.turn, None
        if turn is not None:
            turn.release()
