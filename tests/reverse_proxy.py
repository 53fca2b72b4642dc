"""Debian's nginx in front of server instances, on the configuration docs/server-admin.md
shows (the ```` ```nginx multi-instance ```` block), so the page cannot drift from what
is tested.

The page's file is what goes into ``/etc/nginx/conf.d/``; here it is included from a
small main configuration that keeps everything (pid, logs, temporary files) in a
temporary directory. The values the page shows for a real network (the instances'
addresses, port 443, the certificate's paths) are replaced by the test's, and each must
be found exactly once, so a change on the page that the test does not follow fails.

``proxy_bind``: nginx connects to the instances from 127.0.0.3, which the instances list
in ``trusted_proxies``; the clients connect from 127.0.0.1, as a client on another
machine would from its own address.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.docs.test_docs import DOCS, blocks
from tests.tls_certificate import self_signed_certificate

__all__ = ["NGINX", "PROXY_ADDRESS", "Nginx", "documented_config"]

NGINX = "/usr/sbin/nginx"
PROXY_ADDRESS = "127.0.0.3"
"""Where nginx's connections to the instances come from (``trusted_proxies``)."""

_PAGE = DOCS / "server-admin.md"
_DOCUMENTED_UPSTREAMS = ("10.0.0.11:7601", "10.0.0.12:7601")


def documented_config() -> str:
    """The nginx file of docs/server-admin.md, as the page shows it."""
    found = [b.code for b in blocks()
             if b.page == _PAGE and b.language == "nginx" and b.marker == "multi-instance"]
    assert len(found) == 1, f"{_PAGE.name} needs one ```nginx multi-instance block"
    return found[0]


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the documented nginx file should hold {old!r} once"
    return text.replace(old, new)


class Nginx:
    """nginx on 127.0.0.1:``port`` with TLS, proxying to ``upstream_ports``."""

    def __init__(self, folder: Path, port: int, upstream_ports: tuple[int, int]) -> None:
        self.folder = folder
        self.port = port
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_file, key_file = self_signed_certificate(folder)
        site = documented_config()
        for documented, port_ in zip(_DOCUMENTED_UPSTREAMS, upstream_ports, strict=True):
            site = _replace_once(site, f"server {documented} ", f"server 127.0.0.1:{port_} ")
        site = _replace_once(site, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
        site = _replace_once(site, "/etc/ssl/v6lib/fullchain.pem", str(self.ca_file))
        site = _replace_once(site, "/etc/ssl/v6lib/privkey.pem", str(key_file))
        (folder / "v6lib.conf").write_text(site)
        temp = folder / "temp"
        temp.mkdir(exist_ok=True)
        # NOTE: as root, workers would run as "nobody", who may not enter pytest's 0700
        # temporary directories
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp_paths = "".join(f"{kind}_temp_path {temp / kind};\n"
                             for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.config = folder / "nginx.conf"
        self.config.write_text(
            f"daemon off;\n{user}worker_processes 1;\npid {folder / 'nginx.pid'};\n"
            f"error_log {folder / 'error.log'} warn;\n"
            "events { worker_connections 512; }\n"
            f"http {{\naccess_log {folder / 'access.log'};\n{temp_paths}"
            f"proxy_bind {PROXY_ADDRESS};\ninclude {folder / 'v6lib.conf'};\n}}\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> Nginx:
        if not Path(NGINX).exists() and shutil.which("nginx") is None:
            raise AssertionError("nginx is not installed: bash .ci/nginx.sh installs it "
                                 "(scripts/test.sh does so as root)")
        command = [NGINX if Path(NGINX).exists() else "nginx", "-c", str(self.config),
                   "-p", str(self.folder)]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"nginx refuses the configuration: {check.stderr}"
        with open(self.folder / "nginx.out", "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"nginx did not start: {self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        parts = [self.folder / "nginx.out", self.folder / "error.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast: long-polls are cut, not waited for
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
