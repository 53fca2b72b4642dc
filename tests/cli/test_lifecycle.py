"""Servers and nodes in the background, as an operator runs them: start, list, attach,
version, restart and stop, with real processes on 127.0.0.1."""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tests.cli.conftest import free_port
from tests.tls_certificate import https_version_server
from v6lib.cli import main
from v6lib.pid_files import is_alive, read_pid


def v6(*argv: str) -> str:
    result = CliRunner().invoke(main, list(argv))
    assert result.exit_code == 0, f"v6 {' '.join(argv)}\n{result.output}"
    return result.output


@pytest.mark.integration
def test_server_in_the_background(home: Path) -> None:
    port = free_port()
    v6("server", "new", "-n", "bg", "--port", str(port),
       "--uri", f"sqlite:///{home / 'bg.sqlite'}")
    started = v6("server", "start", "-n", "bg", "--workers", "1", "--threads", "4")
    data = home / "data" / "v6lib" / "server" / "bg"
    pid = read_pid(data / "server.pid")
    assert pid and is_alive(pid) and f"pid {pid}" in started
    assert f"http://127.0.0.1:{port}/api" in started
    for private in (data / "server.pid", data / "server.log"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    again = CliRunner().invoke(main, ["server", "start", "-n", "bg"])
    assert again.exit_code != 0 and "already running" in again.output
    assert f"running (pid {pid})" in v6("server", "list")
    assert f"server at http://127.0.0.1:{port}/api: v6lib" in v6("server", "version", "-n", "bg")

    def stop_soon() -> None:
        time.sleep(1.5)
        v6("server", "stop", "-n", "bg")

    stopper = threading.Thread(target=stop_soon)
    stopper.start()
    attached = v6("server", "attach", "-n", "bg")  # follows until the server ends
    stopper.join()
    assert "listening on" in attached
    assert not is_alive(pid) and not (data / "server.pid").exists()
    assert "stopped" in v6("server", "list")
    after = CliRunner().invoke(main, ["server", "attach", "-n", "bg"])
    assert after.exit_code == 0 and "is not running" in after.output
    stopped = CliRunner().invoke(main, ["server", "stop", "-n", "bg"])
    assert stopped.exit_code == 66 and "server 'bg' is not running" in stopped.output


@pytest.mark.integration
def test_node_in_the_background_restart_and_stop_all(home: Path) -> None:
    # the server need not be up: a node keeps trying to log in
    v6("node", "new", "-n", "n1", "--api-key", "k.k", "--server-url", "http://127.0.0.1",
       "--port", str(free_port()), "--runtime", "process",
       "--task-dir", str(home / "tasks"))
    started = v6("node", "start", "n1")
    pid = read_pid(home / "tasks" / "node.pid")
    assert pid and is_alive(pid) and "runs in the background" in started
    assert stat.S_IMODE((home / "tasks" / "node.log").stat().st_mode) == 0o600
    assert f"running (pid {pid})" in v6("node", "list")
    restarted = v6("node", "restart", "-n", "n1")
    new_pid = read_pid(home / "tasks" / "node.pid")
    assert f"stopped node 'n1' (pid {pid})" in restarted and new_pid and new_pid != pid
    assert not is_alive(pid) and is_alive(new_pid)
    assert "stopped node 'n1'" in v6("node", "stop", "--all")
    assert not is_alive(new_pid)
    assert "no node is running" in v6("node", "stop", "--all")


def test_refused_docker_options(home: Path) -> None:
    v6("server", "new", "-n", "s")
    for argv, named in ((["server", "start", "-n", "s", "--with-ui"], "--with-ui"),
                        (["server", "start", "-n", "s", "--image", "x"], "--image"),
                        (["node", "start", "-n", "s", "--mount-src", "."], "--mount-src"),
                        (["server", "import", "f.yaml", "--drop-all"], "--drop-all")):
        (home / "f.yaml").touch()
        result = CliRunner().invoke(main, argv, catch_exceptions=False)
        assert result.exit_code == 64, (argv, result.output)
        assert f"{named}: not supported: " in result.output


def test_files_remove_and_version_without_a_server(home: Path) -> None:
    v6("server", "new", "-n", "s", "--port", str(free_port()))
    files = v6("server", "files", "s")
    assert "data directory" in files and "server.sqlite" in files
    version = v6("server", "version", "s")
    assert version.startswith("v6 (v6lib) ") and "not reachable" in version
    refused = CliRunner().invoke(main, ["server", "remove", "s"], input="n\n")
    assert refused.exit_code == 1 and (home / "config/v6lib/server/s.yaml").exists()
    removed = v6("server", "remove", "s", "--force")
    assert "kept the data directory" in removed
    assert not (home / "config/v6lib/server/s.yaml").exists()


def test_node_version_trusts_the_configured_ca(home: Path) -> None:
    with https_version_server(home) as (url, ca_file):
        v6("node", "new", "-n", "tls", "--api-key", "k", "--server-url", url,
           "--runtime", "process", "--task-dir", str(home / "tls"))
        refused = v6("node", "version", "-n", "tls")
        assert "not reachable (SSLError)" in refused
        path = home / "config" / "v6lib" / "node" / "tls.yaml"
        path.write_text(path.read_text() + f"server_ca_file: {ca_file}\n")
        assert f"server at {url}/api: v6lib 1.0" in v6("node", "version", "-n", "tls")


def test_node_remove_keeps_the_private_key(home: Path) -> None:
    key = home / "tasks" / "org.pem"
    v6("node", "new", "-n", "n", "--api-key", "k", "--server-url", "http://x",
       "--runtime", "process", "--task-dir", str(home / "tasks"), "--encryption",
       "--private-key", str(key))
    v6("node", "create-private-key", "-n", "n")
    (home / "tasks" / "jobs" / "3" / "7").mkdir(parents=True)
    removed = v6("node", "remove", "-n", "n", "-f")
    assert key.is_file() and not (home / "tasks" / "jobs").exists()
    assert f"except {key}" in removed


def test_set_api_key_rewrites_the_file_privately(home: Path) -> None:
    path = home / "config" / "v6lib" / "node" / "w.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"application": {"api_key": "old", "runtime": "process"}}))
    v6("node", "set-api-key", "-n", "w", "--api-key", "new.key")
    assert yaml.safe_load(path.read_text())["application"]["api_key"] == "new.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    prompted = CliRunner().invoke(main, ["node", "set-api-key", "w"], input="third.key\n")
    assert prompted.exit_code == 0
    assert yaml.safe_load(path.read_text())["application"]["api_key"] == "third.key"


def test_clean_removes_leftovers_but_keeps_runs_in_flight(home: Path) -> None:
    from v6lib.node.journal import Journal

    tasks = home / "tasks"
    v6("node", "new", "-n", "c", "--api-key", "k", "--server-url", "http://x",
       "--runtime", "process", "--task-dir", str(tasks))
    journal = Journal(tasks / "node-journal.sqlite")
    journal.receive(11, task_id=5)
    journal.close()
    for folder in ("jobs/5/11", "jobs/5/12", "jobs/6/13"):
        (tasks / folder).mkdir(parents=True)
    cleaned = v6("node", "clean", "-n", "c")
    assert (tasks / "jobs/5/11").is_dir()
    assert not (tasks / "jobs/5/12").exists() and not (tasks / "jobs/6").exists()
    assert "kept runs still in flight (the next start collects them): 11" in cleaned
    assert "nothing to clean" in v6("node", "clean", "-n", "c")


def test_server_shell_has_a_session(home: Path) -> None:
    v6("server", "new", "-n", "sh", "--uri", f"sqlite:///{home / 'sh.sqlite'}")
    result = CliRunner().invoke(main, ["server", "shell", "-n", "sh"], input=(
        "print('users:', session.scalar(select(func.count()).select_from(models.User)))\n"))
    assert result.exit_code == 0, result.output
    assert "users: 0" in result.output
