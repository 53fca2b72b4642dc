"""Network databases on the process runtime: a real PostgreSQL read through the run's
loopback relay with SQLAlchemy + psycopg, the password in a per-run pgpass file only, and
the relay gone once the run is removed.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.network_services import PEOPLE, people_age_sum, people_database
from v6lib.node.runtime.base import JobDatabase, JobSpec
from v6lib.node.runtime.process import ProcessRuntime
from v6lib.serialization.codec import loads

_ROOT = str(Path(__file__).resolve().parents[3])
pytestmark = [pytest.mark.postgres, pytest.mark.integration]

ALGORITHMS = Path(__file__).resolve().parents[1] / "algorithms"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with people_database() as url:
        yield url


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProcessRuntime]:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ALGORITHMS), _ROOT]))
    rt = ProcessRuntime(tmp_path / "state", warm_start=False,
                        image_modules={"v6-netdb:test": "v6_netdb"})
    yield rt
    for job in rt.list_managed():
        rt.remove(job.handle)
    rt.close()


def run(runtime: ProcessRuntime, tmp_path: Path, method: str, kwargs: dict[str, Any],
        databases: list[JobDatabase], run_id: int = 1) -> tuple[Any, str]:
    run_dir = tmp_path / str(run_id)
    run_dir.mkdir()
    (run_dir / "input").write_text(json.dumps({"method": method, "kwargs": kwargs}))
    (run_dir / "token").write_text("token")
    spec = JobSpec(node_name="n", run_id=run_id, task_id=1, job_id=1, image="v6-netdb:test",
                   input_file=run_dir / "input", output_file=run_dir / "output",
                   token_file=run_dir / "token", temporary_folder=tmp_path / "tmp",
                   databases=databases, proxy_port=1234)
    handle = runtime.start(spec)
    exit_info = runtime.wait(handle, timeout=60)
    assert exit_info is not None and exit_info.exit_code == 0, exit_info and exit_info.logs
    result = loads((run_dir / "output").read_bytes())
    runtime.remove(handle)
    return result, exit_info.logs


def test_process_run_reads_postgres_through_its_relay(runtime: ProcessRuntime, pg_url: str,
                                                      tmp_path: Path) -> None:
    db = JobDatabase("people", pg_url, "sql", "SELECT id, age FROM people")
    result, logs = run(runtime, tmp_path, "summarize", {}, [db])
    assert (result["rows"], result["age_sum"]) == (PEOPLE, people_age_sum())
    env = result["env"]  # as the algorithm saw it
    uri = env["PEOPLE_DATABASE_URI"]
    assert uri.startswith("postgresql+psycopg://v6test@127.0.0.1:") and ":v6test@" not in uri
    assert ":v6test@" not in logs
    port = int(uri.split("127.0.0.1:", 1)[1].split("/", 1)[0])
    # the relay, and its pgpass file, end with the run
    assert not Path(env["PGPASSFILE"]).exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # the algorithm's own driver call with the URI it was given works as well
    value, _ = run(runtime, tmp_path, "sql_direct",
                      {"label": "people", "sql": "SELECT count(*) FROM people"}, [db], run_id=2)
    assert value == PEOPLE


def test_pgpass_file_is_owner_only(runtime: ProcessRuntime, pg_url: str,
                                   tmp_path: Path) -> None:
    from v6lib.node.relays import open_relays
    from v6lib.rules.network_access import Allowlist

    relays = open_relays(9, [JobDatabase("people", pg_url, "sql")], Allowlist(),
                         directory=tmp_path / "r9")
    try:
        pgpass = Path(relays.environment["PGPASSFILE"])
        assert pgpass.stat().st_mode & 0o777 == 0o600
        port = relays.databases[0].uri.split("127.0.0.1:", 1)[1].split("/", 1)[0]
        assert pgpass.read_text() == f"127.0.0.1:{port}:*:v6test:v6test\n"
    finally:
        relays.close()
    assert not pgpass.exists()
