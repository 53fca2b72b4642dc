"""Run the server: under gunicorn (migrations once in the master) or in one process."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from v6lib.config import ServerConfig
from v6lib.pid_files import remove_pid_file, write_pid_file

__all__ = ["GRACEFUL_TIMEOUT", "address_in_use", "configure_logging", "gunicorn_options",
           "run_dev", "run_gunicorn", "wait_for_address"]


def configure_logging(config: ServerConfig) -> None:
    """Server logs to stderr and/or the configured file (created 0600, see ``log_files``)."""
    import logging

    from v6lib.log_files import file_handler

    settings = config.logging
    handlers: list[logging.Handler] = []
    if settings.use_console:
        handlers.append(logging.StreamHandler(sys.stderr))
    if settings.file is not None:
        handlers.append(file_handler(settings))
    fmt = settings.format or "%(asctime)s %(levelname)s %(name)s: %(message)s"
    for handler in handlers:
        handler.setFormatter(logging.Formatter(fmt, settings.datefmt))
    logger = logging.getLogger("v6lib")
    logger.setLevel(settings.level)
    for handler in handlers:
        logger.addHandler(handler)


def _prepare(config: ServerConfig) -> None:
    """Migrate and seed before any worker exists, so workers never race on DDL."""
    from v6lib.server.app import prepare_database
    from v6lib.server.db.engine import make_engine

    engine = make_engine(str(config.uri))
    try:
        prepare_database(config, engine)
    finally:
        engine.dispose()


GRACEFUL_TIMEOUT = 10
"""Seconds a stopping worker may finish requests in flight (gunicorn ``graceful_timeout``)."""


def address_in_use(host: str, port: int) -> bool:
    """Whether something still listens on ``host:port`` (as gunicorn binds it)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def wait_for_address(host: str, port: int, *, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``host:port`` to be free; whether it is.

    Why: after the master was killed its orphaned workers finish their requests in flight
    (at most ``GRACEFUL_TIMEOUT``) before they close the listening socket; gunicorn itself
    retries binding for only five seconds, so a restart right after a crash could fail.
    A port held by another running server stays in use and the start still fails, later.
    """
    deadline = time.monotonic() + timeout
    said = False
    while address_in_use(host, port):
        if time.monotonic() >= deadline:
            return False
        if not said:
            print(f"{host}:{port} is in use (workers of a previous server may be finishing "
                  f"their requests); waiting up to {timeout:g} s", file=sys.stderr)
            said = True
        time.sleep(0.2)
    return True


def gunicorn_options(config: ServerConfig, *, workers: int, threads: int) -> dict[str, Any]:
    # both end held long-polls at once when stopped or when the master died (worker.py);
    # the event-loop worker holds them without a thread each (asgi.py)
    worker = "LoopWorker" if config.serving == "event-loop" else "ThreadWorker"
    return {
        "bind": f"{config.host}:{config.port}",
        "workers": workers,
        "threads": threads,
        "worker_class": f"v6lib.server.worker.{worker}",
        # NOTE: long polls hold a request up to 60 s; the worker timeout must exceed it.
        "timeout": 120,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        # NOTE: `v6 server stop/list` recognize the master by "v6" in its process title
        "proc_name": f"v6 server {config.name}",
        "accesslog": "-",
        # NOTE: several servers may run on one host; gunicorn's shared control socket
        # in the home directory would clash between them.
        "control_socket_disable": True,
    }


@contextmanager
def _pid_file(pid_file: Path | None) -> Iterator[None]:
    """This process's pid in a 0600 file while the server runs (gunicorn's own is 0644).

    Forked workers unwind through here too; only the process that wrote it removes it.
    """
    if pid_file is None:
        yield
        return
    write_pid_file(pid_file)
    try:
        yield
    finally:
        remove_pid_file(pid_file)


def run_gunicorn(config: ServerConfig, config_path: Path, *, workers: int, threads: int,
                 pid_file: Path | None = None) -> None:
    from gunicorn.app.base import BaseApplication

    configure_logging(config)
    _prepare(config)
    os.environ["V6_SERVER_CONFIG"] = str(config_path)
    os.environ["V6_SERVER_MIGRATED"] = "1"
    # the workers size their long-poll slots by the threads they really have
    os.environ["V6_SERVER_THREADS"] = str(threads)
    options = gunicorn_options(config, workers=workers, threads=threads)
    event_loop = config.serving == "event-loop"
    if event_loop:
        import v6lib.server.asgi  # noqa: F401  # imported once here, not in every worker
    else:
        # a stop ends held long-polls at once instead of waiting graceful_timeout for
        # them (LoopWorker does so itself)
        from v6lib.server.worker import post_worker_init

        options["post_worker_init"] = post_worker_init

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            # logging was set up in the master and is inherited
            if event_loop:
                from v6lib.server.asgi import load_app as load_front

                return load_front()
            from v6lib.server.wsgi import load_app

            return load_app()

    wait_for_address(config.host, config.port, timeout=GRACEFUL_TIMEOUT + 2)
    print(f"v6 server {config.name!r} listening on "
          f"http://{config.host}:{config.port}{config.api_path}", file=sys.stderr)
    with _pid_file(pid_file):
        _App().run()


def run_dev(config: ServerConfig, pid_file: Path | None = None) -> None:
    """A single-process threaded server; for development and demos only."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIServer, make_server

    from v6lib.server.app import create_app

    class _Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    configure_logging(config)
    app = create_app(config)

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the dev server like Ctrl+C does

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    with make_server(config.host, config.port, app, server_class=_Threaded) as httpd, \
            _pid_file(pid_file):
        print(f"v6 server {config.name!r} (dev) listening on "
              f"http://{config.host}:{config.port}{config.api_path}", file=sys.stderr)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            app.v6_state.hub.stop()
            if app.v6_state.mailer is not None:
                app.v6_state.mailer.stop()  # send what is queued
