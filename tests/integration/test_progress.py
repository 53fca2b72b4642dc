"""A run's progress on real nodes: algorithm -> node proxy -> server -> the client's wait.

Two nodes, one allowing progress messages and one not (the default), on the process
runtime and on Docker (the algorithm in a container with no network but the proxy):
both organizations' progress arrives at ``task.wait(on_progress=...)`` in the order the
algorithm reported it, in whole percent, and only the allowing node's messages leave.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    SCENARIO_IMAGE,
    Federation,
    LiveServer,
    ThreadNode,
    make_federation,
    node_options,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["process",
                                        pytest.param("docker", marks=pytest.mark.docker)])
def federation(request: pytest.FixtureRequest, live_server: LiveServer,
               scenario_package: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    runtime = request.param
    if runtime == "docker":
        request.getfixturevalue("scenario_image")  # built from this checkout's base image
    fed = make_federation(live_server, 2, prefix=f"progress-{runtime}")
    try:
        for i in range(2):
            options = node_options(fed, i, tmp_path_factory.mktemp(fed.names[i]),
                                   scenario_package=scenario_package, runtime=runtime,
                                   allow_progress_messages=i == 0)
            if runtime == "docker":  # the image's own PYTHONPATH finds the algorithm
                options = dataclasses.replace(options, algorithm_env={})
            fed.nodes.append(ThreadNode(options, runtime=_runtime(runtime, fed.names[i])))
        yield fed
    finally:
        fed.stop_nodes()
        if runtime == "docker":
            from tests.docker_support import cleanup_node

            client = request.getfixturevalue("docker_client")
            assert [cleanup_node(client, node.runtime) for node in fed.nodes] == [[], []]


def _runtime(kind: str, name: str) -> Any:
    if kind != "docker":
        return None
    from tests.docker_support import BASE_IMAGE
    from v6lib.node.runtime.docker import DockerRuntime

    return DockerRuntime(name, check_image=BASE_IMAGE)


def test_progress_arrives_at_the_client_in_order(federation: Federation) -> None:
    fed = federation
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=fed.org_ids, name="counts up",
        image=SCENARIO_IMAGE,
        input_={"method": "count_up", "kwargs": {"steps": 4, "seconds": 1.2}})
    seen: dict[int, list[tuple[Any, Any]]] = {org: [] for org in fed.org_ids}

    def on_progress(run: dict[str, Any]) -> None:
        seen[run["organization_id"]].append((run["progress"], run["progress_message"]))

    done = fed.root.task.wait(task["id"], timeout=60, on_progress=on_progress)

    assert done["status"] == "completed"
    talkative, quiet = fed.org_ids
    fractions = {org: [fraction for fraction, _ in reports] for org, reports in seen.items()}
    for org in fed.org_ids:
        assert len(fractions[org]) >= 2, seen
        assert fractions[org] == sorted(fractions[org]), seen
        assert set(fractions[org]) <= {0.25, 0.5, 0.75, 1.0}, seen
    assert {message for _, message in seen[talkative]} <= {
        "step 1/4", "step 2/4", "step 3/4", "step 4/4"}
    assert all(message is None for _, message in seen[quiet]), seen
