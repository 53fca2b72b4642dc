"""Local-to-real parity (scenario 7): the same algorithm, the same data, the same answer.

``examples/average``'s ``central_average`` (a central function fanning out partials) runs
on the MockNetwork and on the real stack (real server, three real nodes with the process
runtime, or with Docker and the ``v6-average`` image). The organizations carry the same
ids in the mock as on the server, so the results must be equal, not just close. The
second organization's data lacks the ``bmi`` column: averaging ``bmi`` then fails there,
and both worlds must say so, naming that organization.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from v6lib.errors import AlgorithmError
from v6lib.mock import MockNetwork
from v6lib.node.runtime.base import JobDatabase

from .conftest import (
    AVERAGE_DIR,
    AVERAGE_IMAGE,
    SITES,
    Federation,
    LiveServer,
    ThreadNode,
    make_federation,
    node_options,
)

pytestmark = pytest.mark.integration

if str(AVERAGE_DIR) not in sys.path:
    sys.path.insert(0, str(AVERAGE_DIR))
import v6_average  # noqa: E402


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The example's CSVs, the second without its ``bmi`` column (the injected failure)."""
    folder = tmp_path_factory.mktemp("parity-data")
    broken = folder / "site_b_without_bmi.csv"
    pd.read_csv(SITES[1]).drop(columns=["bmi"]).to_csv(broken, index=False)
    broken.chmod(0o644)
    return [SITES[0], broken, SITES[2]]


class RealStacks:
    """One federation per runtime, started when a test first asks for it."""

    def __init__(self, server: LiveServer, datasets: list[Path], scenario_package: Path,
                 tmp: pytest.TempPathFactory, request: pytest.FixtureRequest) -> None:
        self.server, self.datasets, self.package = server, datasets, scenario_package
        self.tmp, self.request = tmp, request
        self.stacks: dict[str, Federation] = {}

    def get(self, kind: str) -> Federation:
        if kind not in self.stacks:
            fed = make_federation(self.server, prefix=f"parity-{kind}")
            self.stacks[kind] = fed
            for index in range(3):
                databases = {"default": JobDatabase("default", str(self.datasets[index]), "csv")}
                options = node_options(fed, index, self.tmp.mktemp(fed.names[index]),
                                       scenario_package=self.package, databases=databases,
                                       runtime=kind)
                runtime = None
                if kind == "docker":
                    from tests.docker_support import BASE_IMAGE
                    from v6lib.node.runtime.docker import DockerRuntime

                    self.request.getfixturevalue("docker_client").images.get(AVERAGE_IMAGE)
                    runtime = DockerRuntime(fed.names[index], check_image=BASE_IMAGE)
                fed.nodes.append(ThreadNode(options, runtime=runtime))
        return self.stacks[kind]

    def close(self) -> list[str]:
        leftovers: list[str] = []
        for kind, fed in self.stacks.items():
            fed.stop_nodes()
            if kind == "docker":
                from tests.docker_support import cleanup_node

                client = self.request.getfixturevalue("docker_client")
                for node in fed.nodes:
                    leftovers += cleanup_node(client, node.runtime)
        return leftovers


@pytest.fixture(scope="module")
def real_stacks(live_server: LiveServer, datasets: list[Path], scenario_package: Path,
                tmp_path_factory: pytest.TempPathFactory,
                request: pytest.FixtureRequest) -> Iterator[RealStacks]:
    stacks = RealStacks(live_server, datasets, scenario_package, tmp_path_factory, request)
    try:
        yield stacks
    finally:
        assert stacks.close() == []


def _mock_run(datasets: list[Path], org_ids: list[int], column: str) -> Any:
    with MockNetwork(v6_average, datasets, organization_ids=org_ids) as network:
        [result] = network.run("central_average", kwargs={"column": column})
    return result


def _real_run(fed: Federation, column: str) -> Any:
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=[fed.org_ids[0]], name="parity",
        image=AVERAGE_IMAGE, input_={"method": "central_average", "kwargs": {"column": column}})
    [result] = fed.root.wait_for_results(task["id"], timeout=120)
    return result


@pytest.mark.parametrize("backend", ["mock", "process",
                                     pytest.param("docker", marks=pytest.mark.docker)])
def test_central_average_is_identical_on_mock_and_real_stack(
        backend: str, datasets: list[Path], real_stacks: RealStacks) -> None:
    pooled = pd.concat([pd.read_csv(path) for path in datasets])["age"]
    if backend == "mock":
        org_ids = [11, 12, 13]
        result = _mock_run(datasets, org_ids, "age")
        assert result == {"average": pytest.approx(float(pooled.mean()), rel=1e-12),
                          "count": int(pooled.count()), "organizations": org_ids}
        return
    fed = real_stacks.get(backend)
    real = _real_run(fed, "age")
    mocked = _mock_run(datasets, fed.org_ids, "age")
    assert real == mocked
    assert real["count"] == int(pooled.count())
    assert real["organizations"] == sorted(fed.org_ids)


@pytest.mark.parametrize("backend", ["mock", "process",
                                     pytest.param("docker", marks=pytest.mark.docker)])
def test_failure_at_one_organization_is_named_on_mock_and_real_stack(
        backend: str, datasets: list[Path], real_stacks: RealStacks) -> None:
    if backend == "mock":
        org_ids = [11, 12, 13]
    else:
        fed = real_stacks.get(backend)
        org_ids = fed.org_ids
    broken = org_ids[1]

    with pytest.raises(AlgorithmError) as mocked:
        _mock_run(datasets, org_ids, "bmi")
    messages = [str(mocked.value)]
    if backend != "mock":
        with pytest.raises(AlgorithmError) as real:
            _real_run(fed, "bmi")
        messages.append(str(real.value))
    cause = _data_error(messages[0])
    assert "'bmi'" in cause, messages[0]
    for message in messages:
        assert f"organization {broken} failed: DataError" in message, message
        assert cause in message, message  # the same cause, word for word
        for healthy in (org_ids[0], org_ids[2]):
            assert f"organization {healthy} failed: DataError" not in message, message


def _data_error(message: str) -> str:
    """The text of the first ``DataError: ...`` line (what the failing partial said)."""
    for line in message.splitlines():
        if "DataError: " in line:
            return line.split("DataError: ", 1)[1].split(" (exit code ")[0].strip()
    raise AssertionError(f"no DataError in {message}")
