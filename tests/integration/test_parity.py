"""Local-to-real parity (scenarios 7 and 16): the same algorithm, the same data, the same answer.

``examples/average``'s ``central_average`` (a central function fanning out partials) runs
on the MockNetwork and on the real stack (real server, three real nodes with the process
runtime, or with Docker and the ``v6-average`` image). The organizations carry the same
ids in the mock as on the server, so the results must be equal, not just close. The
second organization's data lacks the ``bmi`` column: averaging ``bmi`` then fails there,
and both worlds must say so, naming that organization.

``v6_statistics`` (``algorithms/``) returns real statistics: MultiIndex aggregates
(``groupby().size()``, ``groupby().agg()`` with a list of functions), crosstabs with axis
names and interval bands, an ``np.int32`` and a ``float32`` matrix. Its central result,
and the same one through a second central level (``nested_statistics``),
which holds the partials as the central function received them, must be identical
(types, dtypes, index levels and names) on every path, and identical to the same
functions called on the data directly, without any transport. With Docker, the image's
pandas, numpy and pyarrow must be the versions of this interpreter: pandas itself gives
other dtypes across versions (pandas 3 makes ``str`` group labels where 2.x made
``object``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.exact_values import assert_identical
from v6lib.errors import AlgorithmError
from v6lib.mock import MockNetwork
from v6lib.node.runtime.base import JobDatabase

from .conftest import (
    ALGORITHMS_DIR,
    AVERAGE_DIR,
    AVERAGE_IMAGE,
    SITES,
    STATISTICS_IMAGE,
    Federation,
    LiveServer,
    ThreadNode,
    make_federation,
    node_options,
)

pytestmark = pytest.mark.integration

for _folder in (AVERAGE_DIR, ALGORITHMS_DIR):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
import v6_average  # noqa: E402
import v6_statistics  # noqa: E402


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
                # NOTE: images hold their own packages; a host PYTHONPATH means nothing there
                # and would hide an image's PYTHONPATH.
                docker_env = {"algorithm_env": {}} if kind == "docker" else {}
                options = node_options(fed, index, self.tmp.mktemp(fed.names[index]),
                                       scenario_package=self.package, databases=databases,
                                       runtime=kind, **docker_env)
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


# --------------------------------------------------------------------------- statistics
def _statistics_on_mock(datasets: list[Path], org_ids: list[int],
                        method: str = "central_statistics") -> Any:
    with MockNetwork(v6_statistics, datasets, organization_ids=org_ids) as network:
        [result] = network.run(method)
    return result


def _statistics_on(fed: Federation, image: str, method: str = "central_statistics") -> Any:
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=[fed.org_ids[0]], name="statistics",
        image=image, input_={"method": method})
    [result] = fed.root.wait_for_results(task["id"], timeout=180)
    return result


def _same_libraries_in(image: str, client: Any) -> None:
    """Fail, saying what differs, when the image's pandas/numpy/pyarrow are not ours."""
    import numpy
    import pyarrow

    code = "import pandas, numpy, pyarrow; print(pandas.__version__, numpy.__version__, " \
        "pyarrow.__version__)"
    inside = client.containers.run(image, ["python3", "-c", code], remove=True,
                                   network_disabled=True).decode().split()
    here = [pd.__version__, numpy.__version__, pyarrow.__version__]
    assert inside == here, (
        f"{image} has pandas/numpy/pyarrow {inside}, this interpreter {here}: pandas makes "
        "other dtypes across versions, so parity cannot be shown; build the base image "
        "with this interpreter's versions")


@dataclass
class StatisticsPaths:
    """One statistics method's answers: computed directly, on the mock, on a real stack."""

    org_ids: list[int]
    direct: Any  # the functions called on the data, without any transport
    mocked: Any
    real: Any  # None on the mock backend


def _statistics_paths(backend: str, method: str, datasets: list[Path],
                      real_stacks: RealStacks, request: pytest.FixtureRequest
                      ) -> StatisticsPaths:
    fed = None if backend == "mock" else real_stacks.get(backend)
    org_ids = [11, 12, 13] if fed is None else fed.org_ids
    direct = v6_statistics.combine({org: v6_statistics.statistics(pd.read_csv(path))
                                    for org, path in zip(org_ids, datasets, strict=True)})
    mocked = _statistics_on_mock(datasets, org_ids, method)
    if fed is None:
        return StatisticsPaths(org_ids, direct, mocked, None)
    image = STATISTICS_IMAGE
    if backend == "docker":
        image = request.getfixturevalue("statistics_image")
        _same_libraries_in(image, request.getfixturevalue("docker_client"))
    return StatisticsPaths(org_ids, direct, mocked, _statistics_on(fed, image, method))


BACKENDS = ["mock", "process", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_statistics_arrive_exactly_on_mock_and_real_stack(
        backend: str, datasets: list[Path], real_stacks: RealStacks,
        request: pytest.FixtureRequest) -> None:
    paths = _statistics_paths(backend, "central_statistics", datasets, real_stacks, request)
    assert_identical(paths.mocked, paths.direct)
    if paths.real is None:
        return
    real = paths.real
    assert_identical(real, paths.mocked)

    partial = real["partials"][paths.org_ids[0]]  # the values the scenario names, spelled out
    assert isinstance(partial["size"].index, pd.MultiIndex)
    assert partial["size"].index.names == ["sex", "smoker"]
    assert partial["blood_pressure"].columns.tolist() == [("systolic_bp", "mean"),
                                                          ("systolic_bp", "count")]
    assert (real["crosstab"].index.name, partial["crosstab"].columns.name) == ("sex", "smoker")
    assert isinstance(partial["age_bands"].index.dtype, pd.CategoricalDtype)
    assert type(real["rows"]) is np.int32 and real["rows"] == sum(
        len(pd.read_csv(path)) for path in datasets)
    assert partial["moments"].dtype == np.float32 and partial["moments"].shape == (2, 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_nested_central_arrives_exactly_on_mock_and_real_stack(
        backend: str, datasets: list[Path], real_stacks: RealStacks,
        request: pytest.FixtureRequest) -> None:
    paths = _statistics_paths(backend, "nested_statistics", datasets, real_stacks, request)
    assert_identical(paths.mocked["inner"], paths.direct)  # two levels changed nothing
    assert type(paths.mocked["inner_at"]) is np.int64
    assert paths.mocked["inner_at"] == paths.org_ids[-1]
    if paths.real is not None:
        assert_identical(paths.real, paths.mocked)
