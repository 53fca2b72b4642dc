"""Serve a WSGI app on 127.0.0.1 in a thread: real HTTP without gunicorn."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

__all__ = ["serve_app", "serve_event_loop"]


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # listen backlog: bursts of connections must not be reset


class _PooledServer(WSGIServer):
    """Serves requests on a fixed number of threads, as gunicorn's gthread worker does:
    a request that holds a thread makes the others queue."""

    threads = 8
    request_queue_size = 128

    def server_activate(self) -> None:
        super().server_activate()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="served-app")

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        return


@contextlib.contextmanager
def serve_app(app: Any, *, threads: int | None = None, port: int = 0) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1; yields the port.

    ``threads=None`` starts a thread per connection; a number serves on that many
    threads only, like a gunicorn gthread worker with ``threads`` set.
    """
    server_class: type[WSGIServer] = _ThreadingServer
    if threads is not None:
        server_class = type("PooledServer", (_PooledServer,), {"threads": threads})
    httpd = make_server("127.0.0.1", port, app, server_class=server_class,
                        handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True, name="served-app")
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def serve_event_loop(app: Any, *, threads: int = 8, port: int = 0) -> Iterator[int]:
    """Serve the WSGI app ``app`` (a ``V6App``) as ``v6 server start`` does by default:
    behind ``asgi.LongPollFront`` on uvicorn, in a thread; yields the port.

    Stopping wakes the held long-polls first (they answer at once), as a worker does.
    """

    import uvicorn

    from v6lib.server.asgi import LongPollFront

    front = LongPollFront(app, threads=threads)
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    config = uvicorn.Config(front, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=5, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]},
                              daemon=True, name="served-loop")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield listener.getsockname()[1]
    finally:
        app.v6_state.hub.stop()
        server.should_exit = True
        thread.join(10)
        listener.close()
