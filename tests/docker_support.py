"""A real Docker engine and the locally built images, for tests marked ``docker``.

CI starts the engine with ``.ci/docker.sh`` and builds the images with ``.ci/images.sh``.
When either is missing the tests FAIL with the command that fixes it: a Docker test
that silently skips would let isolation regressions through.

``V6_TEST_BASE_IMAGE`` names another base image (v6lib and its dependencies) to test
against, e.g. one built from a branch under its own tag on a shared engine; the images
the tests build themselves (``v6-scenario:test``, ``v6-statistics:test``) start from it.
"""

from __future__ import annotations

import contextlib
import os
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "BASE_IMAGE",
    "PROBE_IMAGE",
    "PYTHON_IMAGE",
    "REQUIRED_IMAGES",
    "build_wrapper_image",
    "cleanup_node",
    "docker_client",
    "http_server",
    "outside_host_ip",
    "unique_node_name",
]

PYTHON_IMAGE = "v6lib-python:3.11"
BASE_IMAGE = os.environ.get("V6_TEST_BASE_IMAGE") or "v6lib-base:latest"
PROBE_IMAGE = "v6-probe:latest"
AVERAGE_IMAGE = "v6-average:latest"
REQUIRED_IMAGES = (PYTHON_IMAGE, BASE_IMAGE, PROBE_IMAGE)


def _engine() -> Any:
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.fail(
            f"Docker tests need a running engine, none answered ({exc}). "
            "Start one with `sudo bash .ci/docker.sh`.", pytrace=False,
        )
    return client


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client of a running engine that holds every image of ``.ci/images.sh``."""
    client = _engine()
    import docker.errors

    missing = []
    for image in REQUIRED_IMAGES:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    if missing:
        pytest.fail(
            f"Docker images {', '.join(missing)} are missing; build them with "
            "`sudo bash .ci/images.sh`.", pytrace=False,
        )
    yield client
    client.close()


def build_wrapper_image(client: Any, context: Path, package: str, tag: str) -> str:
    """Build ``tag``: the base image plus the package ``context/<package>``, run by
    v6lib's wrapper as an algorithm image built on ``v6lib-base`` is."""
    client.images.get(BASE_IMAGE)
    (context / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nCOPY {package} /algorithm/{package}\n"
        f"ENV PYTHONPATH=/algorithm PKG_NAME={package}\n"
        'CMD ["python3", "-m", "v6lib.wrappers"]\n')
    client.images.build(path=str(context), tag=tag, rm=True)
    return tag


def unique_node_name(prefix: str = "t") -> str:
    """A node name no other test (or parallel run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def cleanup_node(client: Any, runtime: Any) -> list[str]:
    """Remove what a test node left (its containers); return the leftovers.

    The runtime's own ``remove``/``close`` do the work; what this returns afterwards is
    what they missed, so tests can assert it is empty.
    """
    import docker.errors

    from v6lib.node.runtime.base import LABEL_NODE

    for job in runtime.list_managed():
        runtime.remove(job.handle)
    mine = {"label": f"{LABEL_NODE}={runtime.node_name}"}
    for container in client.containers.list(all=True, filters=mine):
        try:
            container.remove(force=True, v=True)
        except docker.errors.APIError as exc:
            # a warm container that ended removes itself (auto_remove): 409 meanwhile
            if exc.status_code not in (404, 409):
                raise
    runtime.close()
    deadline = time.monotonic() + 10
    while (left := client.containers.list(all=True, filters=mine)) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    return [c.name for c in left]


def outside_host_ip() -> str:
    """A host address that is not on any Docker bridge (the one of the default route)."""
    import socket

    from v6lib.node.runtime.docker_isolation import host_ipv4_addresses

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it picks a route
        address = probe.getsockname()[0]
    except OSError:
        address = ""
    finally:
        probe.close()
    if address and not address.startswith("127."):
        return address
    others = [ip for ip in host_ipv4_addresses() if not ip.startswith("172.")]
    if not others:
        pytest.fail("the host has no address outside Docker's bridges to test against")
    return others[0]


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the host"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_server(host: str, port: int = 0) -> Iterator[tuple[str, int]]:
    """A tiny HTTP server on ``host`` answering 'hello from the host'; yields its address."""
    server = ThreadingHTTPServer((host, port), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[0], server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _ProxyHello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        body = b"hello from the proxy"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *args: Any) -> None:
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextlib.contextmanager
def fake_proxy_socket(path: Path) -> Iterator[socketserver.BaseServer]:
    """A stand-in node proxy on the Unix socket ``path``, answering 'hello from the proxy'.

    Created like the real one (owner-only socket in a traversable directory), so the
    runtime's hand-over to the container user is exercised too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o711)
    path.unlink(missing_ok=True)
    old_umask = os.umask(0o177)
    try:
        server = _UnixServer(str(path), _ProxyHello)
    finally:
        os.umask(old_umask)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        path.unlink(missing_ok=True)
