"""ssh_tunnels against a real OpenSSH server: a run reads PostgreSQL through the node's
tunnel (a database URI naming ``hostname:bind.port``), and a server whose host key is not
the configured one is refused.

The sshd is the system's binary (``.ci/sshd.sh`` installs it) started on a free loopback
port with throw-away host and client keys; it forwards to the test PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.network_services import PEOPLE, free_port, people_database, wait_listening
from v6lib.errors import RuntimeUnavailableError
from v6lib.node.runtime.base import JobDatabase
from v6lib.node.ssh_tunnels import SshTunnels, SshTunnelSpec

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

SSHD = "/usr/sbin/sshd"
ALGORITHMS = Path(__file__).resolve().parent / "algorithms"


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True)
    return Path(f"{path}.pub").read_text().strip()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not os.path.exists(SSHD) or shutil.which("ssh") is None:
        pytest.fail("ssh_tunnels tests need OpenSSH: run `sudo bash .ci/sshd.sh`",
                    pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the sshd of the ssh_tunnels test runs as root (as CI does)",
                    pytrace=False)
    base = tmp_path_factory.mktemp("sshd")
    base.chmod(0o700)
    host_key = keygen(base / "host_key")
    client_public = keygen(base / "client_key")
    (base / "authorized_keys").write_text(client_public + "\n")
    (base / "authorized_keys").chmod(0o600)
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        f"AllowTcpForwarding yes\nPidFile {base / 'sshd.pid'}\nStrictModes no\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                              stderr=subprocess.PIPE)
    wait_listening(port, server, "sshd", 20)
    yield {"port": port, "host_key": host_key, "client_key": base / "client_key"}
    server.terminate()
    server.wait(10)


def spec(sshd: dict[str, Any], fingerprint: str | None = None) -> SshTunnelSpec:
    return SshTunnelSpec(
        hostname="pg-tunnel", ssh_host="127.0.0.1", ssh_port=sshd["port"],
        fingerprint=fingerprint or sshd["host_key"], username="root", key=sshd["client_key"],
        bind_port=8000, dest_ip="127.0.0.1", dest_port=5432)


def test_a_run_reads_postgres_through_the_nodes_ssh_tunnel(
        sshd: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from v6lib.node.runtime.base import JobSpec
    from v6lib.node.runtime.process import ProcessRuntime
    from v6lib.serialization.codec import loads

    root = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ALGORITHMS), root]))
    runtime = ProcessRuntime(tmp_path / "state", warm_start=False,
                             image_modules={"v6-netdb:test": "v6_netdb"},
                             tunnels=SshTunnels([spec(sshd)]))
    try:
        runtime.verify()  # opens the tunnel
        with people_database(rows=PEOPLE) as url:
            tunnelled = make_url(url).set(host="pg-tunnel", port=8000).render_as_string(
                hide_password=False)
            run_dir = tmp_path / "run"
            run_dir.mkdir()
            (run_dir / "input").write_text(json.dumps({"method": "sql_direct", "kwargs": {
                "label": "people", "sql": "SELECT count(*) FROM people"}}))
            (run_dir / "token").write_text("token")
            handle = runtime.start(JobSpec(
                node_name="n", run_id=1, task_id=1, job_id=1, image="v6-netdb:test",
                input_file=run_dir / "input", output_file=run_dir / "output",
                token_file=run_dir / "token", temporary_folder=tmp_path / "tmp",
                databases=[JobDatabase("people", tunnelled, "sql")], proxy_port=1))
            info = runtime.wait(handle, timeout=60)
            assert info is not None and info.exit_code == 0, info and info.logs
            runtime.remove(handle)
        assert loads((run_dir / "output").read_bytes()) == PEOPLE
    finally:
        runtime.close()
    assert runtime.tunnels is not None and runtime.tunnels.endpoints == {}


def test_a_server_with_another_host_key_is_refused(sshd: dict[str, Any],
                                                   tmp_path: Path) -> None:
    other = keygen(tmp_path / "other_host_key")
    tunnels = SshTunnels([spec(sshd, fingerprint=other)])
    with pytest.raises(RuntimeUnavailableError, match=r"ssh_tunnels\.pg-tunnel: ssh to "
                                                      r"127\.0\.0\.1:\d+ failed: "
                                                      r"Host key verification failed"):
        tunnels.start()
    tunnels.close()
