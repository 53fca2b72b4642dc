"""Chaos: a researcher keeps eight tasks going while server, database and nodes fail.

A real server (``v6 server start``: gunicorn master and two workers) on PostgreSQL (a
cluster of its own) or SQLite, three real node daemons (``v6 node start``, process
runtime) and a researcher at concurrency 8. Meanwhile a node is SIGKILLed and started
again, a gunicorn worker is SIGKILLed, the master is SIGKILLed and the server started
again at once, PostgreSQL is restarted, and the disk of a node's ``task_dir`` (a 32 MB
tmpfs, so the suite runs as root, as CI does) fills up for a few seconds. Afterwards
every task's status matches its runs, every run executed exactly once (a run the full
disk ended at most once, and the researcher was told why), every result arrived exactly
once, and no process of the federation is left. The counts are printed.

Run it alone:  ``python -m pytest tests/chaos -m chaos -s``
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.chaos.checks import Tally, check_outcome
from tests.chaos.database import PostgresCluster, postgres_bin_dir
from tests.chaos.faults import Faults
from tests.chaos.server_process import ServerProcess
from tests.chaos.workload import Researcher
from tests.integration.conftest import (
    CliNode,
    checkout_env,
    cli_node_config,
    free_port,
    make_federation,
    wait_until,
)
from tests.processes import tagged, wait_gone
from tests.small_disk import mounted_tmpfs

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

TAG = "V6_CHAOS_TAG"
"""Set for every process of the federation (inherited by workers and algorithms)."""

PAUSE = 4.0
"""Seconds of work between two faults, so each lands while tasks are in flight."""


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def database(request: pytest.FixtureRequest,
             tmp_path: Path) -> Iterator[tuple[str, PostgresCluster | None]]:
    """The server's database URL, and the PostgreSQL cluster to restart (if any)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.sqlite'}", None
        return
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed: bash .ci/postgres.sh installs it "
                    "(scripts/test.sh does so as root)")
    cluster = PostgresCluster(bin_dir, free_port()).create()
    try:
        yield cluster.url, cluster
    finally:
        cluster.destroy()


@contextlib.contextmanager
def small_disk(folder: Path, size_mb: int = 32) -> Iterator[None]:
    """A size-limited file system at ``folder`` (a tmpfs; mounting one needs root)."""
    with mounted_tmpfs(folder, size_mb) as refused:
        if refused is not None:
            pytest.fail(f"cannot mount a tmpfs at {folder} ({refused}): the full-disk "
                        "fault needs root, as scripts/test.sh has in CI")
        yield


def _connected(node: CliNode) -> bool:
    return "connected as node" in node.log()


def _schedule(faults: Faults) -> list[Callable[[], None]]:
    steps: list[Callable[[], None]] = [lambda: faults.kill_node(0), faults.kill_worker,
                                       faults.kill_master]
    if faults.cluster is not None:
        steps.append(faults.restart_database)
    steps += [lambda: faults.fill_disk(1), lambda: faults.kill_node(2)]
    return steps


def test_no_task_is_lost_or_repeated_when_parts_fail(
        database: tuple[str, PostgresCluster | None], tmp_path: Path,
        scenario_package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri, cluster = database
    tag = uuid.uuid4().hex
    env = checkout_env(**{TAG: tag})
    server = ServerProcess(tmp_path / "server", uri, env).start()
    nodes: list[CliNode] = []
    tally = Tally()
    disk = contextlib.ExitStack()
    researcher: Researcher | None = None
    try:
        disk.enter_context(small_disk(tmp_path / "node1"))
        fed = make_federation(server, prefix="chaos")  # type: ignore[arg-type]
        for index in range(3):
            config = cli_node_config(fed, index, tmp_path / f"node{index}",
                                     scenario_package=scenario_package,
                                     event_timeout=5, sweep_interval=5)
            config["algorithm_env"][TAG] = tag
            config["min_free_disk_mb"] = 4  # the small disk of node 1 has 32 MB
            node = CliNode(config, tmp_path / f"node{index}.yaml", env)
            node.log_file = tmp_path / f"node{index}.log"  # not on the disk that fills up
            nodes.append(node.start())
        for node in nodes:  # faults must land on a working federation
            wait_until(functools.partial(_connected, node), 90,
                       f"node {node.config['name']} to connect")
        researcher = Researcher(fed, tmp_path / "markers")
        (tmp_path / "markers").mkdir()
        working = researcher.run()
        faults = Faults(server, nodes, cluster)
        for step in _schedule(faults):
            time.sleep(PAUSE)
            step()
        time.sleep(PAUSE)
        researcher.stop()
        working.join(researcher.wait_timeout + 60)
        assert not working.is_alive(), "the researcher still waits"
        tally.faults = faults.injected
        check_outcome(tally, fed.login(), researcher)
    finally:
        if researcher is not None:  # a fault that failed must not leave it creating tasks
            researcher.stop()
        for node in nodes:
            node.stop()
        server.stop()
        disk.close()
    left = wait_gone(tagged(TAG, tag), 10)
    if left:
        tally.problems.append(f"processes left behind: {left}")
    with capsys.disabled():
        print(f"\nchaos on {uri.split(':', 1)[0]}: {tally.summary()}")
    assert not tally.problems, "\n".join(tally.problems[:30])
    assert tally.tasks >= 8 and tally.faults["server master SIGKILL"] == 1
