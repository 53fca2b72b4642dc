"""Warm starter of the process runtime: forks algorithm runs from an interpreter that has
already imported ``v6lib.wrappers`` (and, by default, pandas).

Why: a fresh ``python -m v6lib.wrappers`` pays an interpreter start and the wrapper's
imports (about 0.17 s, more when several runs start at once on few CPUs) and a real
algorithm pays about 0.3 s more for pandas. A fork of a prepared interpreter costs a few
milliseconds. The node's :class:`v6lib.node.runtime.process.ProcessRuntime` starts one
starter (through :class:`v6lib.node.runtime.warm_client.WarmStarter`, the node's end of
the protocol below) and falls back to its ``/bin/sh`` launcher whenever the starter is
not there.

Protocol, over one ``AF_UNIX`` stream socketpair. Every message is a 4-byte big-endian
length followed by that many bytes of UTF-8 JSON (one object):

* starter -> node, once, when prepared: ``{"ready": true, "pid": int, "preloaded": [str],
  "failed": {module: error}}`` (``failed``: preloads that could not be imported; they are
  skipped), or ``{"ready": false, "error": str}`` and the starter exits.
* node -> starter: ``{"op": "spawn", "env": {str: str}, "cwd": str, "log": str,
  "exit": str, "argv": [str], "pid_file": str (optional)}``; reply ``{"pid": int,
  "start_time": str | null}`` (the kernel start time read before the child can be reaped)
  or ``{"error": str}`` (nothing was started, e.g. the run's folder does not exist).
  Before replying, the starter records the child in ``pid_file`` (the same JSON as the
  reply): a node killed before it received the reply finds the run there on its restart
  instead of starting it a second time.
* end of file from the node (the runtime closed): the starter takes no more requests and
  exits once its last child has ended, so it still records their exit codes.

The starter runs no Python threads (one poll loop; SIGCHLD arrives through a wake-up
pipe; the native thread pools of preloaded libraries, such as OpenBLAS, handle a fork
themselves) and detaches at start-up (forks, the first process exits), so the node
never has to reap it. Each child, before answering the node, starts a new session (so
``killpg`` of its pid stops it and its own subprocesses, not the starter), then: stdin
from ``/dev/null``, stdout and stderr to ``log``, cwd ``cwd``, ``os.environ`` replaced
by ``env`` and ``sys.path`` rebuilt as ``python -m`` builds it from ``cwd`` and
``env``'s PYTHONPATH; it runs ``v6lib.wrappers.runner.main()``, does what interpreter
shutdown does that a run can observe (threading's exit hooks and joining non-daemon
threads, atexit handlers, flushing stdio: 120 if that fails), writes its exit code over
the first bytes of ``exit`` (which the node reserved, blank: in place, as the launcher
does, so a full disk cannot lose it) and calls ``os._exit``.
The starter reaps every child and, when a child wrote no code (killed by signal N:
128 + N, the launcher's convention), writes the code itself.

A child that cannot reproduce a fresh interpreter execs ``argv`` (the launcher's
command) instead, after the same set-up; the starter then records its exit code. That
happens when an interpreter-level variable differs from the starter's own environment
(``PYTHON*`` other than PYTHONPATH, locale, thread-pool and loader variables), or when
the run's ``sys.path`` would import a different file for a module the starter already
holds (e.g. a PYTHONPATH entry with its own pandas, or a node whose own PYTHONPATH
provides v6lib while the runs' does not). The reason goes to the starter's stderr
(``warm-starter.log`` in the runtime's state folder).

Known differences from a fresh interpreter: the hash seed is the starter's (shared by
its children); module objects the starter imported (pandas, numpy) are the same files
but were initialised in the starter's environment; ``__main__`` is the starter's, and
``ps`` shows the starter's command line for a run. ``numpy.random``'s global
state is re-seeded in each child (Python's ``random`` re-seeds itself after a fork).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["BOOT", "DEFAULT_PRELOAD", "main", "receive", "send"]

DEFAULT_PRELOAD = ("pandas",)
_HEADER = struct.Struct(">I")
_MAX_MESSAGE = 64 * 1024 * 1024
# Read by the interpreter or a native library at start-up or import: a run whose value
# differs from the starter's gets a fresh interpreter.
_STARTUP_VARS = re.compile(r"PYTHON(?!PATH$).*|LD_.*|LC_.*|LANG|LANGUAGE|MALLOC_.*|"
                           r"OMP_.*|OPENBLAS_.*|GOTO_.*|MKL_.*|BLIS_.*|VECLIB_.*|"
                           r"NUMEXPR_.*|ARROW_.*|JE_.*|TMPDIR")
BOOT = ("import os, sys\n"
         "del sys.path[0]\n"
         "if os.fork():\n"
         "    os._exit(0)\n"
         "from v6lib.node.runtime.warm_starter import main\n"
         "main(int(sys.argv[1]), sys.argv[2:])\n")


# ----------------------------------------------------------------------------- framing


def send(sock: socket.socket, message: Mapping[str, Any]) -> None:
    """Write one message (length, then JSON)."""
    data = json.dumps(message).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> dict[str, Any] | None:
    """The next message, or None at end of file."""
    header = _recv_exact(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > _MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes is too large")
    data = _recv_exact(sock, size)
    if data is None:
        return None
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


def _start_time(pid: int) -> str | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return fields[19] if len(fields) > 19 else None


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


def _write_exit(path: str, code: int) -> None:
    """Write ``code`` over the first bytes of the exit file the node reserved, in place:
    no new disk block is needed, so the code is kept even when the disk is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                 0o644)
    try:
        os.write(fd, str(code).encode())
    finally:
        os.close(fd)


def _holds_code(path: str) -> bool:
    """Whether the exit file at ``path`` holds a code (a reserved one is blank)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return bool(os.read(fd, 32).strip())
    except OSError:
        return False
    finally:
        os.close(fd)


def _write_record(path: str, text: str, suffix: str) -> None:
    """Write ``text`` under a temporary name, then rename; on a failure (a full disk)
    the half-written temporary file is removed, not left behind."""
    tmp = f"{path}{suffix}"
    try:
        with os.fdopen(os.open(tmp, _NEW_FILE, 0o644), "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- starter


def _leading_entries(cwd: str, pythonpath: str | None) -> list[str]:
    """What ``python -m`` puts before the standard entries of ``sys.path`` (3.11 rules:
    the cwd, then each PYTHONPATH entry made absolute; an empty entry means the cwd)."""
    entries = [cwd]
    if pythonpath:
        entries += [os.path.normpath(os.path.join(cwd, e)) for e in pythonpath.split(os.pathsep)]
    return entries


class _Starter:
    """The starter's state: its socket, its children and what a fresh interpreter has."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | None = sock
        self.env = dict(os.environ)
        own = os.environ.get("PYTHONPATH")
        lead = _leading_entries(os.getcwd(), own)[1:]  # the boot code dropped sys.path[0]
        self.base: list[str] | None = (sys.path[len(lead):] if sys.path[:len(lead)] == lead
                                       else None)
        self.lead = lead
        self.children: dict[int, str] = {}
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        spec = importlib.machinery.PathFinder.find_spec("v6lib.wrappers.__main__",
                                                       sys.modules["v6lib.wrappers"].__path__)
        self.main_file = spec.origin if spec is not None and spec.origin else "-m"

    def serve(self) -> None:
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        assert self.sock is not None
        poller.register(self.sock.fileno(), select.POLLIN)
        while self.sock is not None or self.children:
            for fd, _ in poller.poll():
                if fd == self.wake_r:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wake_r, 512):
                            pass
                    self.reap()
                elif self.sock is not None and not self.handle_request():
                    poller.unregister(self.sock.fileno())
                    self.sock.close()
                    self.sock = None
            self.reap()

    def handle_request(self) -> bool:
        """Serve one request; False when the node has gone."""
        assert self.sock is not None
        try:
            request = receive(self.sock)
            if request is None:
                return False
            try:
                reply = self.spawn(request)
            except (OSError, KeyError, TypeError, ValueError) as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            send(self.sock, reply)
        except (OSError, ValueError):
            return False
        return True

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            exit_file = self.children.pop(pid, None)
            if exit_file is None or _holds_code(exit_file):
                continue
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                _write_exit(exit_file, 128 - code if code < 0 else code)

    def spawn(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if request.get("op") != "spawn":
            raise ValueError(f"unknown op {request.get('op')!r}")
        env = {str(k): str(v) for k, v in request["env"].items()}
        cwd, exit_file = str(request["cwd"]), str(request["exit"])
        argv = [str(a) for a in request["argv"]]
        if not os.path.isdir(cwd):
            raise FileNotFoundError(f"the run's folder {cwd} does not exist")
        log_fd = os.open(str(request["log"]), _NEW_FILE, 0o666)
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            pid = os.fork()
        except OSError:
            for fd in (log_fd, ready_r, ready_w):
                os.close(fd)
            raise
        if pid == 0:  # the child: never returns to the loop
            code = 1
            try:
                os.close(ready_r)
                code = self.child(env, cwd, exit_file, argv, log_fd, ready_w)
            except BaseException as exc:  # as an interpreter would end
                traceback.print_exc()
                code = 128 + signal.SIGINT if isinstance(exc, KeyboardInterrupt) else 1
            finally:
                os._exit(code)
        os.close(log_fd)
        os.close(ready_w)
        self.children[pid] = exit_file
        start_time = _start_time(pid)
        with contextlib.suppress(OSError):
            os.read(ready_r, 1)  # end of file once the child leads its own session
        os.close(ready_r)
        reply = {"pid": pid, "start_time": start_time}
        if request.get("pid_file"):
            with contextlib.suppress(OSError):  # a full disk: the node's reply still counts
                _write_record(str(request["pid_file"]), json.dumps(reply), ".tmp")
        return reply

    # -- the child -------------------------------------------------------------------
    def child(self, env: dict[str, str], cwd: str, exit_file: str, argv: list[str],
              log_fd: int, ready_w: int) -> int:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        os.close(ready_w)
        os.close(self.wake_r)
        os.close(self.wake_w)
        if self.sock is not None:
            self.sock.close()
        self.children.clear()
        try:
            os.chdir(cwd)
        except OSError as exc:
            os.write(log_fd, f"v6lib: cannot enter the run's folder {cwd}: {exc}\n".encode())
            _write_exit(exit_file, 126)
            return 126
        cwd = os.getcwd()
        fresh = self.needs_fresh_interpreter(env, cwd)
        if fresh is not None:  # to the starter's log, for an operator wondering why
            os.write(2, f"run {exit_file}: a fresh interpreter, because {fresh}\n".encode())
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(null)
        os.close(log_fd)
        os.environ.clear()
        os.environ.update(env)
        if fresh is not None:
            os.execv(argv[0], argv)
        time.tzset()
        sys.path[:] = _leading_entries(cwd, env.get("PYTHONPATH")) + (self.base or [])
        importlib.invalidate_caches()
        sys.argv = [self.main_file]
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:
            numpy_random.seed()
        from v6lib.wrappers.runner import main as run

        code = _finish(run())
        _write_exit(exit_file, code)
        return code

    def needs_fresh_interpreter(self, env: Mapping[str, str], cwd: str) -> str | None:
        """Why this run cannot be served by the starter's imports (None: it can)."""
        if self.base is None:
            return "the starter could not tell its own sys.path apart"
        for key in set(env) ^ set(self.env) | {k for k in env if env[k] != self.env.get(k)}:
            if _STARTUP_VARS.fullmatch(key):
                return f"{key} differs"
        lead = _leading_entries(cwd, env.get("PYTHONPATH"))
        candidates = _names_in(lead) | _names_in(self.lead)
        finder = importlib.machinery.PathFinder
        for name in sorted(candidates & {n for n in sys.modules if "." not in n}):
            loaded = getattr(getattr(sys.modules.get(name), "__spec__", None), "origin", None)
            if loaded in (None, "built-in", "frozen"):
                continue
            theirs = finder.find_spec(name, lead)
            # Not found before the standard entries: a fresh interpreter resolves it as
            # the starter did, unless the starter found it in its own leading entries.
            same = (theirs.origin == loaded if theirs is not None
                    else finder.find_spec(name, self.lead) is None)
            if not same:
                return f"sys.path would import another {name}"
        return None


def _names_in(folders: Sequence[str]) -> set[str]:
    """Top-level module names that files in ``folders`` could provide."""
    names: set[str] = set()
    for folder in folders:
        with contextlib.suppress(OSError):
            names.update(entry.split(".", 1)[0] for entry in os.listdir(folder))
    return names


def _finish(code: int) -> int:
    """What interpreter shutdown does that a run can observe, then the final exit code."""
    # NOTE: threading._shutdown is the interpreter's own step: it first runs the threading
    # atexit hooks (which stop e.g. idle ThreadPoolExecutor workers), then joins threads;
    # joining alone would hang on a pool the algorithm left open.
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    else:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
    import atexit

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is not None:
        run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # CPython turns a failed flush into 120
            code = 120 if code == 0 else code
    return code & 0xFF


def main(fd: int, preload: Sequence[str]) -> None:
    """The starter process: prepare, say so, serve until the node goes and children end."""
    os.set_inheritable(fd, False)
    sock = socket.socket(fileno=fd)
    try:
        import v6lib.wrappers.runner  # noqa: F401 (the point of the starter)
    except BaseException as exc:  # report any failure to the node
        with contextlib.suppress(OSError):
            send(sock, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    loaded, failed = [], {}
    for name in preload:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as exc:  # a missing preload is skipped
            failed[name] = f"{type(exc).__name__}: {exc}"
    starter = _Starter(sock)
    try:
        send(sock, {"ready": True, "pid": os.getpid(), "preloaded": loaded, "failed": failed})
    except OSError:
        return
    starter.serve()
