"""Gunicorn worker of ``v6 server start``: end held long-polls whenever a worker stops.

Why: a node holds ``GET /event`` open for up to a minute. On SIGTERM (graceful stop,
``v6 server stop``) and SIGINT/SIGQUIT (quick stop) gunicorn waits for requests in
flight, so without this a stop took the whole ``graceful_timeout``. The hook wraps the
worker's signal handlers so the signal also stops the app's ``EventHub``, which wakes
every held long-poll; they answer with no events at once and the worker exits promptly.

The same holds when the master dies (SIGKILL, out of memory): gunicorn's worker notices
its parent changed within a second and stops, but then waited for held long-polls too,
keeping the listening socket, so a new ``v6 server start`` found the address in use.
``ThreadWorker`` wakes them on that path as well and closes its listening socket there,
so the port is free about a second after the master died.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from typing import Any

from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker as GthreadWorker
from uvicorn.config import Config
from uvicorn.server import Server

__all__ = ["ORPHAN_GRACE", "LoopWorker", "ThreadWorker", "post_worker_init", "wake_long_polls"]

ORPHAN_GRACE = 2.0
"""Seconds a worker whose master died may finish its requests before it exits."""


def wake_long_polls(app: Any) -> threading.Thread | None:
    """Stop ``app``'s event hub in a helper thread (a signal handler must not block).

    Returns the thread, or None when ``app`` carries no hub (e.g. it failed to load).
    """
    hub = getattr(getattr(app, "v6_state", None), "hub", None)
    if hub is None:
        return None
    thread = threading.Thread(target=hub.stop, name="v6-hub-stop", daemon=True)
    thread.start()
    return thread


def post_worker_init(worker: Any) -> None:
    """gunicorn ``post_worker_init`` hook: chain hub shutdown before the stop handlers.

    gunicorn installs its handlers before loading the app, so they are replaced here
    (after loading) by wrappers that first wake the long-polls.
    """
    graceful, quick = worker.handle_exit, worker.handle_quit

    def on_term(sig: int, frame: Any) -> None:
        wake_long_polls(getattr(worker, "wsgi", None))
        graceful(sig, frame)

    def on_quit(sig: int, frame: Any) -> None:
        thread = wake_long_polls(getattr(worker, "wsgi", None))
        if thread is not None:
            thread.join(1.0)  # let woken requests answer before the pool is abandoned
        quick(sig, frame)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_quit)
    signal.signal(signal.SIGQUIT, on_quit)


class ThreadWorker(GthreadWorker):  # type: ignore[misc,unused-ignore]  # typed in some gunicorn releases
    """gunicorn's ``gthread`` worker that lets go of the port at once when orphaned.

    An orphan finishes the requests it holds (long-polls woken, others for at most
    ``ORPHAN_GRACE`` seconds), and closes its copy of the listening socket as soon as it
    stops accepting; once every orphan did, a new master can bind the address.
    """

    _orphaned = False

    def is_parent_alive(self) -> bool:
        if super().is_parent_alive():
            return True
        self._orphaned = True
        wake_long_polls(getattr(self, "wsgi", None))
        # NOTE: a request still running holds its database connection, transaction and
        # locks, which the next master's migration waits for; an orphan has no one to
        # report to, so it gives them ORPHAN_GRACE seconds instead of graceful_timeout
        ender = threading.Timer(ORPHAN_GRACE, os._exit, (0,))
        ender.daemon = True
        ender.start()
        return False

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if self._orphaned and not enabled:
            for listener in self.sockets:  # gunicorn closes them again on exit: harmless
                listener.close()


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # the module moves to its own package
    from uvicorn.workers import UvicornWorker


class _Server(Server):
    """uvicorn's server that wakes held long-polls first when told to stop."""

    def __init__(self, config: Config, app: Any) -> None:
        super().__init__(config)
        self.v6_app = app

    def handle_exit(self, sig: int, frame: Any) -> None:
        wake_long_polls(self.v6_app)
        super().handle_exit(sig, frame)


class LoopWorker(UvicornWorker):  # type: ignore[misc,unused-ignore]
    """uvicorn's gunicorn worker for ``asgi.LongPollFront``, with ``ThreadWorker``'s stops.

    * SIGTERM, SIGINT (graceful) and SIGQUIT (gunicorn's quick stop) wake the held
      long-polls, which answer with what there is, then the server stops;
    * when the master died the worker notices within a second, wakes the long-polls,
      stops accepting (freeing the port) and exits after at most ``ORPHAN_GRACE`` s.
    """

    #: ``proxy_headers`` off: uvicorn would otherwise take any X-Forwarded-For from a
    #: local peer as the client's address, before the server's own rule
    #: (:mod:`v6lib.server.client_address`, ``trusted_proxies``) is asked; a client
    #: on the same machine could then pick the address its login attempts count for.
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "proxy_headers": False}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.timeout_notify = 0  # notify (and notice being orphaned) every second
        self.config.timeout_graceful_shutdown = int(ORPHAN_GRACE * 4)
        self._server: _Server | None = None

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        self._server = _Server(self.config, self.wsgi)
        self._install_sigquit_handler()
        await self._server.serve(sockets=self.sockets)
        if not self._server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    def handle_exit(self, sig: int, frame: Any) -> None:  # SIGQUIT
        super().handle_exit(sig, frame)
        self._stop()

    def _stop(self) -> None:
        wake_long_polls(self.wsgi)
        if self._server is not None:
            self._server.should_exit = True
        # NOTE: a request still running holds its database connection; no one waits
        # for this worker, so it gets ORPHAN_GRACE seconds, not graceful_timeout
        ender = threading.Timer(ORPHAN_GRACE, os._exit, (0,))
        ender.daemon = True
        ender.start()

    async def callback_notify(self) -> None:
        self.notify()
        if self.ppid != os.getppid() and not self._orphaned:
            self.log.info("Parent changed, shutting down: %s", self)
            self._orphaned = True
            self._stop()

    _orphaned = False
