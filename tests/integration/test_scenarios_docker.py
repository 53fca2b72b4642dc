"""Scenarios 4 and 10 with the Docker runtime: kill a task tree; leave nothing behind.

Three real nodes (in threads) run the ``v6-scenario:test`` image in containers.

* 4: a central task fans out children on every node, each of which starts a grandchild
  on its own node (7 containers). Killing the central task stops every container within
  seconds and marks every run killed; after every node restarts nothing runs again.
* 10: after runs that complete, fail and are killed, no container or volume of the
  node is left, its only network is its own, and its journal survives a restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docker_support import BASE_IMAGE, cleanup_node
from v6lib.node.journal import LocalState
from v6lib.node.runtime.base import LABEL_NODE, LABEL_TASK
from v6lib.node.runtime.docker import DockerRuntime
from v6lib.schemas.run_status import RunStatus

from .conftest import (
    Federation,
    LiveServer,
    ThreadNode,
    make_federation,
    node_options,
    run_statuses,
    wait_statuses,
    wait_until,
)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]
KILLED = RunStatus.KILLED.value


def _docker_node(fed: Federation, index: int, tmp: pytest.TempPathFactory,
                 package: Any) -> ThreadNode:
    options = node_options(fed, index, tmp.mktemp(fed.names[index]), scenario_package=package,
                           runtime="docker",
                           algorithm_env={"V6_SCENARIO_ORG": str(fed.org_ids[index])})
    return ThreadNode(options, runtime=DockerRuntime(fed.names[index], check_image=BASE_IMAGE))


@pytest.fixture(scope="module")
def federation(live_server: LiveServer, scenario_image: str, scenario_package: Any,
               docker_client: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    fed = make_federation(live_server, prefix="docker")
    try:
        for index in range(3):
            fed.nodes.append(_docker_node(fed, index, tmp_path_factory, scenario_package))
        yield fed
    finally:
        fed.stop_nodes()
        leftovers = [cleanup_node(docker_client, node.runtime) for node in fed.nodes]
        assert leftovers == [[] for _ in fed.nodes]


def _restart(fed: Federation, index: int, tmp: pytest.TempPathFactory, package: Any) -> None:
    old = fed.nodes[index]
    old.stop()
    fresh = ThreadNode(old.options, runtime=DockerRuntime(fed.names[index],
                                                          check_image=BASE_IMAGE))
    fed.nodes[index] = fresh


def _tree(root: Any, task_id: int) -> list[int]:
    """The task and all its descendants."""
    found, todo = [], [task_id]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += [t["id"] for t in root.transport.iter_pages(
            "/task", params={"parent_id": current}, per_page=100)]
    return found


def _containers(docker_client: Any, task_ids: list[int], *, running_only: bool) -> list[str]:
    wanted = {str(t) for t in task_ids}
    listed = docker_client.api.containers(all=not running_only, filters={"label": LABEL_TASK})
    return [c["Id"] for c in listed if c["Labels"].get(LABEL_TASK) in wanted]


def _all_runs(root: Any, task_ids: list[int]) -> list[dict[str, Any]]:
    return [run for task in task_ids for run in root.run.from_task(task)]


def test_killing_a_task_tree_stops_every_container_and_nothing_restarts(
        federation: Federation, docker_client: Any, scenario_image: str,
        scenario_package: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    fed = federation
    central = fed.root.task.create(
        collaboration=fed.collaboration, organizations=[fed.org_ids[0]], name="tree",
        image=scenario_image, input_={"method": "tree", "kwargs": {"depth": 2, "seconds": 600}})

    def tree_running() -> list[int] | None:
        tasks = _tree(fed.root, central["id"])
        runs = _all_runs(fed.root, tasks)
        active = len(runs) == 7 and all(r["status"] == "active" for r in runs)
        return tasks if active and len(_containers(docker_client, tasks,
                                                   running_only=True)) == 7 else None

    tasks = wait_until(tree_running, 90, "7 runs of the tree (1 + 3 + 3) to be active",
                       interval=0.5)
    began = time.monotonic()
    fed.root.task.kill(central["id"])
    wait_until(lambda: not _containers(docker_client, tasks, running_only=True), 10,
               "every container of the tree to stop", interval=0.1)
    stopped_after = time.monotonic() - began
    assert stopped_after < 5, f"containers ran {stopped_after:.1f} s after the kill"
    for task in tasks:
        wait_statuses(fed.root, task, {KILLED}, timeout=15)
    assert len(_all_runs(fed.root, tasks)) == 7

    for index in range(3):
        _restart(fed, index, tmp_path_factory, scenario_package)
    time.sleep(6)  # longer than a sweep: anything that would restart has done so
    assert _containers(docker_client, tasks, running_only=False) == []
    assert [r["status"] for r in _all_runs(fed.root, tasks)] == [KILLED] * 7
    assert _tree(fed.root, central["id"]) == tasks


def test_no_container_or_volume_outlives_its_run(
        federation: Federation, docker_client: Any, scenario_image: str,
        scenario_package: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    fed = federation
    volumes_before = {v.name for v in docker_client.volumes.list()}
    create = fed.root.task.create
    done = create(collaboration=fed.collaboration, organizations=fed.org_ids, name="ok",
                  image=scenario_image,
                  input_={"method": "sleep_echo", "kwargs": {"seconds": 0, "value": 1}})
    crashed = create(collaboration=fed.collaboration, organizations=fed.org_ids, name="crash",
                     image=scenario_image,
                     input_={"method": "crash_at",
                             "kwargs": {"organization": fed.org_ids[2], "value": 2}})
    killed = create(collaboration=fed.collaboration, organizations=fed.org_ids, name="kill",
                    image=scenario_image,
                    input_={"method": "sleep_echo", "kwargs": {"seconds": 600, "value": 3}})
    wait_statuses(fed.root, killed["id"], {"active"}, timeout=90)
    fed.root.task.kill(killed["id"])
    wait_statuses(fed.root, done["id"], {"completed"}, timeout=90)
    wait_statuses(fed.root, crashed["id"], {"completed", "failed"}, timeout=90)
    assert sorted(run_statuses(fed.root, crashed["id"])) == ["completed", "completed", "failed"]
    wait_statuses(fed.root, killed["id"], {KILLED}, timeout=15)

    task_ids = [done["id"], crashed["id"], killed["id"]]
    wait_until(lambda: not _containers(docker_client, task_ids, running_only=False), 20,
               "the containers of finished runs to be removed", interval=0.2)
    for node in fed.nodes:
        name = node.options.name
        assert docker_client.containers.list(all=True,
                                             filters={"label": f"{LABEL_NODE}={name}"}) == []
        assert [n.name for n in docker_client.networks.list() if name in n.name] == []
    assert {v.name for v in docker_client.volumes.list()} <= volumes_before

    _restart(fed, 0, tmp_path_factory, scenario_package)
    journal = fed.nodes[0].node.journal
    first_org_runs = [r["id"] for task in task_ids for r in fed.root.run.from_task(task)
                      if r["organization_id"] == fed.org_ids[0]]
    for run_id in first_org_runs:
        entry = journal.get(run_id)
        assert entry is not None and entry.state in (LocalState.UPLOADED, LocalState.DROPPED), \
            (run_id, entry)
