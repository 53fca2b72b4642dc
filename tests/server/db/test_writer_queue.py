"""SQLite writers are served in order, across processes, and only while they write."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from v6lib.server.db.engine import make_engine, write_options
from v6lib.server.db.writer_queue import WriterQueue


def _wait_until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_writers_are_served_in_the_order_they_came(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "db-writer")
    assert queue.acquire()
    served: list[int] = []

    def writer(n: int) -> None:
        assert queue.acquire()
        served.append(n)
        queue.release()

    threads = []
    for n in range(6):  # each one queued before the next starts
        threads.append(threading.Thread(target=writer, args=(n,)))
        threads[-1].start()
        _wait_until(lambda n=n: queue._next_ticket == n + 2)  # type: ignore[misc]
    queue.release()
    for thread in threads:
        thread.join(10)
    assert served == list(range(6))


def test_a_writer_that_waited_too_long_gives_up_its_place(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "db-writer", timeout=0.2)
    assert queue.acquire()
    started = time.monotonic()
    assert not queue.acquire()
    assert 0.15 < time.monotonic() - started < 5
    queue.release()
    assert queue.acquire()  # the abandoned ticket is skipped, not waited for
    queue.release()


def test_another_process_holding_the_lock_makes_writers_wait(tmp_path: Path) -> None:
    lock = tmp_path / "db-writer"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, time\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(0.5)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        queue = WriterQueue(lock)
        started = time.monotonic()
        assert queue.acquire()
        assert time.monotonic() - started > 0.2
        queue.release()
    finally:
        holder.wait(10)


def test_a_connection_kept_open_between_commits_lets_others_write(tmp_path: Path) -> None:
    """A result upload commits chunk by chunk on one connection: between its
    transactions other writers go ahead."""
    engine = make_engine(f"sqlite:///{tmp_path / 'server.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER)"))
    uploader = engine.connect().execution_options(**write_options())
    uploader.execute(text("INSERT INTO t VALUES (1)"))
    uploader.commit()  # the upload's connection stays open (its next chunk is coming)
    done = threading.Event()

    def other_writer() -> None:
        with engine.connect().execution_options(**write_options()) as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            conn.commit()
        done.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        assert done.wait(5), "the open connection held the writer queue after its commit"
    finally:
        uploader.close()
        thread.join(40)
        engine.dispose()
    assert (tmp_path / "server.sqlite-writer").stat().st_mode & 0o777 == 0o600
