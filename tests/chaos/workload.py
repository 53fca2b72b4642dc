"""The researcher of the chaos suite: tasks at a fixed concurrency until told to stop.

Each task runs ``sleep_echo`` (the scenario algorithm) on every organization with a
marker file of its own, so every execution of a run leaves one ``started`` line in
``<marker>.<organization>``. The task's name carries the marker, so a task created twice
(a retried request whose first answer was lost) is still checked on its own.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.conftest import SCENARIO_IMAGE, Federation
from v6lib import errors
from v6lib.client import Client

__all__ = ["Researcher", "Submission", "marker_of"]

SECONDS = 0.5
"""How long each algorithm runs: long enough that faults land while runs execute."""


def marker_of(task_name: str, marker_dir: Path) -> Path:
    """The marker file prefix of the task named ``task_name`` (see ``Researcher``)."""
    return marker_dir / task_name.replace(" ", "-")


@dataclass
class Submission:
    """One task as the researcher saw it: created (after retries), then waited for."""

    index: int
    task_id: int | None = None
    results: list[Any] | None = None
    error: str | None = None
    create_attempts: int = 0


@dataclass
class Researcher:
    """Creates and waits for tasks on ``concurrency`` threads until ``stop`` is called."""

    fed: Federation
    marker_dir: Path
    concurrency: int = 8
    wait_timeout: float = 180
    submissions: list[Submission] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _counter: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> threading.Thread:
        thread = threading.Thread(target=self._drive, name="chaos-researcher", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Create no more tasks; those created are still waited for."""
        self._stopping.set()

    def _drive(self) -> None:
        # NOTE: one session shared by the threads, as a researcher's script has; eight
        # logins at once would meet the login throttle (attempts count before checking)
        client = self._retrying(self.fed.login)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="researcher") as pool:
            for _ in range(self.concurrency):
                pool.submit(self._loop, client)

    def _loop(self, client: Client) -> None:
        while not self._stopping.is_set():
            with self._lock:
                self._counter += 1
                submission = Submission(self._counter)
                self.submissions.append(submission)
            try:
                self._submit(client, submission)
            except Exception as exc:  # the checks report every lost task
                submission.error = f"{type(exc).__name__}: {exc}"

    def _retrying(self, call: Any, submission: Submission | None = None) -> Any:
        """``call()``, again while the server is unavailable (a fault), for a minute."""
        deadline = time.monotonic() + 60
        while True:
            if submission is not None:
                submission.create_attempts += 1
            try:
                return call()
            except errors.ServerUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _submit(self, client: Client, submission: Submission) -> None:
        attempt = 0

        def create() -> dict[str, Any]:
            nonlocal attempt
            attempt += 1
            name = f"chaos {submission.index} {attempt}"
            marker = marker_of(name, self.marker_dir)
            return client.task.create(
                collaboration=self.fed.collaboration, organizations=self.fed.org_ids,
                name=name, image=SCENARIO_IMAGE,
                input_={"method": "sleep_echo",
                        "kwargs": {"seconds": SECONDS, "value": submission.index,
                                   "marker": str(marker)}})

        task = self._retrying(create, submission)
        submission.task_id = int(task["id"])
        # NOTE: the wait rides out outages itself; reading the results after it may not
        submission.results = self._retrying(lambda: client.wait_for_results(
            submission.task_id, timeout=self.wait_timeout))
