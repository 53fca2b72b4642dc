"""The node's end of the warm starter: launches it, asks it to fork runs, stops it.

The protocol and what a forked run does are described in
:mod:`v6lib.node.runtime.warm_starter`, which runs in the starter process.
"""

from __future__ import annotations

import select
import socket
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from v6lib.errors import ConflictError, RuntimeUnavailableError
from v6lib.node.runtime.warm_starter import BOOT, receive, send

__all__ = ["WarmStarter"]


class WarmStarter:
    """The node's handle on one starter process (thread-safe).

    :meth:`launch` does not wait: :meth:`ready` says whether the starter has finished
    preparing, so a run never waits for it (it takes the launcher instead).
    """

    def __init__(self, python: str, preload: Sequence[str], log_file: Path,
                 env: Mapping[str, str], reply_timeout: float = 10.0) -> None:
        self.python = python
        self.preload = list(preload)
        self.log_file = log_file
        self.env = dict(env)
        self.reply_timeout = reply_timeout
        self.pid: int | None = None
        self.info: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._state = "new"  # new -> starting -> ready | failed
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        return self._state

    def launch(self) -> None:
        """Start the starter process (once); it detaches, so nothing is left to reap."""
        with self._lock:
            if self._state != "new":
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                with self.log_file.open("wb") as log_fh:
                    proc = subprocess.Popen(
                        [self.python, "-c", BOOT, str(theirs.fileno()), *self.preload],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_fh,
                        pass_fds=(theirs.fileno(),), cwd="/", env=self.env,
                        start_new_session=True)
                proc.wait(30)  # the first process exits right after forking the starter
            except (OSError, subprocess.TimeoutExpired) as exc:
                ours.close()
                self._fail(f"cannot start: {exc}")
                return
            finally:
                theirs.close()
            self._sock = ours
            self._state = "starting"

    def attach(self, sock: socket.socket) -> None:
        """Take a connection to a starter started elsewhere (inside a warm container, see
        :mod:`v6lib.node.runtime.docker_warm`) instead of launching one."""
        with self._lock:
            if self._state != "new":
                sock.close()
                return
            self._sock = sock
            self._state = "starting"

    def ready(self, timeout: float = 0.0) -> bool:
        """True once the starter has prepared; waits up to ``timeout`` seconds for it."""
        with self._lock:
            if self._state == "starting" and self._sock is not None:
                readable, _, _ = select.select([self._sock], [], [], timeout)
                if readable:
                    self._read_ready()
            return self._state == "ready"

    def _read_ready(self) -> None:
        assert self._sock is not None
        self._sock.settimeout(self.reply_timeout)
        try:
            message = receive(self._sock)
        except (OSError, ValueError) as exc:
            self._fail(f"no greeting: {exc}")
            return
        if message is None or not message.get("ready"):
            reason = "exited" if message is None else message.get("error")
            self._fail(f"failed to prepare ({reason}; see {self.log_file})")
            return
        self.info = message
        self.pid = int(message["pid"])
        self._state = "ready"

    def spawn(self, *, env: Mapping[str, str], cwd: Path, log: Path, exit_file: Path,
              argv: Sequence[str], pid_file: Path | None = None) -> tuple[int, str | None]:
        """Have the starter fork a run; (pid, kernel start time).

        Raises:
            RuntimeUnavailableError: the starter is not ready, has gone or refused, and the
                run was not started (another way may start it).
            ConflictError: the starter took the request but gave no answer: the run may
                be running, so it must not be started another way.
        """
        request = {"op": "spawn", "env": dict(env), "cwd": str(cwd), "log": str(log),
                   "exit": str(exit_file), "argv": list(argv),
                   "pid_file": str(pid_file) if pid_file else None}
        with self._lock:
            if self._state != "ready" or self._sock is None:
                raise RuntimeUnavailableError(f"warm starter is {self._state}")
            try:
                send(self._sock, request)
            except (OSError, ValueError) as exc:
                self._fail(f"lost: {exc}")
                raise RuntimeUnavailableError(f"warm starter lost: {exc}") from exc
            try:
                reply = receive(self._sock)
            except ConnectionResetError as exc:
                # Closed with our request still unread: it was never taken, so the run
                # may start another way.
                self._fail(f"lost: {exc}")
                raise RuntimeUnavailableError(f"warm starter lost: {exc}") from exc
            except (OSError, ValueError) as exc:
                reply, problem = None, str(exc)
            else:
                problem = "it exited"
            if reply is None:
                self._fail(f"no answer to a request: {problem}")
                raise ConflictError(
                    f"the warm starter took the run but gave no answer ({problem}); the run "
                    "may have started, so it is not started a second time"
                )
        if "error" in reply:
            raise RuntimeUnavailableError(f"warm starter could not start the run: "
                                          f"{reply['error']}")
        return int(reply["pid"]), reply.get("start_time")

    def _fail(self, reason: str) -> None:
        self._state = "failed"
        self.info = {"error": reason}
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __del__(self) -> None:
        # NOTE: a runtime dropped without close() must not leave an unclosed socket
        # (ResourceWarning) nor a starter that waits for requests that never come.
        if self._sock is not None:
            self._sock.close()

    def close(self) -> None:
        """Tell the starter to stop (it exits once its running children have ended)."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self._state = "closed"
