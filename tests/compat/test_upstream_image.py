"""An algorithm image built with vantage6's own tools, run unchanged on v6lib's Docker nodes.

The image is the project's base image plus ``vantage6-algorithm-tools==4.15.2`` (installed
without network from wheels fetched on the host, as ``v6 algorithm build`` installs) and
``upstream_algorithm/v6_upstream_average``, a federated average written as a vantage6 4.15
user writes one, started by vantage6's wrapper (the CMD of vantage6's algorithm template).
Its central function creates subtasks with vantage6's algorithm client through the node
proxy; a real server and two Docker nodes run it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.docker_support import BASE_IMAGE, docker_client, http_server, outside_host_ip
from tests.integration.conftest import (
    ROOT,
    SITES,
    Federation,
    LiveServer,
    docker_nodes,
    live_server,
    make_federation,
)
from v6lib.image.build import install_offline
from v6lib.image.docker_cli import docker
from v6lib.image.wheelhouse import download
from v6lib.node.options import NodeOptions
from v6lib.node.runtime.base import JobDatabase

pytestmark = [pytest.mark.docker, pytest.mark.integration]
__all__ = ["docker_client", "live_server"]  # the fixtures, re-exported for pytest

UPSTREAM_TOOLS = "vantage6-algorithm-tools==4.15.2"
#: vantage6-common pins qrcode 7.3.1, published only as source: a wheel is built on the
#: host (pure Python) so the image installs everything from wheels.
SOURCE_ONLY = ("qrcode==7.3.1",)
UPSTREAM_IMAGE = "v6-upstream-average:test"
PACKAGE = Path(__file__).resolve().parent / "upstream_algorithm" / "v6_upstream_average"
# vantage6's algorithm template (its Dockerfile's last line), shell form and all
DOCKERFILE = f"""FROM {BASE_IMAGE}
COPY v6_upstream_average /app/v6_upstream_average
ENV PKG_NAME=v6_upstream_average PYTHONPATH=/app
CMD python -c "from vantage6.algorithm.tools.wrap import wrap_algorithm; wrap_algorithm()"
"""


@pytest.fixture(scope="session")
def upstream_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Built once per session: the wheels fetched on the host, installed without network."""
    docker_client.images.get(BASE_IMAGE)
    wheels = tmp_path_factory.mktemp("upstream-wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--wheel-dir", str(wheels), *SOURCE_ONLY],
                   check=True, timeout=300)
    local = ROOT / ".ci" / "wheels" / "deps"  # the base image's own, when CI fetched them
    download([UPSTREAM_TOOLS], wheels, find_links=[local] if local.is_dir() else [])
    context = tmp_path_factory.mktemp("upstream-image")
    shutil.copytree(PACKAGE, context / PACKAGE.name,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (context / "Dockerfile").write_text(DOCKERFILE)
    built = docker(["build", "--quiet", "--force-rm", str(context)]).strip()
    lock = context / "requirements.txt"
    lock.write_text(UPSTREAM_TOOLS + "\n")
    installed = install_offline(built, UPSTREAM_IMAGE, "v6-upstream-average", wheels, lock)
    assert installed["vantage6-algorithm-tools"] == "4.15.2"
    return UPSTREAM_IMAGE


@pytest.fixture(scope="module")
def federation(live_server: LiveServer, upstream_image: str, docker_client: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Two Docker nodes; each has the real data as ``ages`` and a decoy as ``default``,
    so only subtasks that inherit their parent's database compute the right mean."""
    fed = make_federation(live_server, 2, prefix="upstream")
    decoy = tmp_path_factory.mktemp("decoy") / "decoy.csv"
    decoy.write_text("age\n1000\n1000\n")
    options = [NodeOptions(
        name=name, api_key=fed.api_keys[index], server_api_url=live_server.url,
        task_dir=tmp_path_factory.mktemp(name),
        databases={"default": JobDatabase("default", str(decoy), "csv"),
                   "ages": JobDatabase("ages", str(SITES[index]), "csv")},
        allowed_images=(upstream_image,), event_timeout=2.0)
        for index, name in enumerate(fed.names)]
    with docker_nodes(fed, options, docker_client) as running:
        yield running


def test_upstream_central_function_fans_out_through_the_node_proxy(
        federation: Federation, upstream_image: str) -> None:
    fed = federation
    ages = pd.concat([pd.read_csv(site)["age"] for site in SITES[:2]])
    with http_server(outside_host_ip()) as (host, port):
        task = fed.root.task.create(
            collaboration=fed.collaboration, organizations=[fed.org_ids[0]],
            name="upstream average", image=upstream_image, databases=[{"label": "ages"}],
            input_={"method": "central_average",
                    "kwargs": {"column": "age", "outside_host": host, "outside_port": port}})
        (result,) = fed.root.wait_for_results(task["id"], timeout=180)
    assert result["average"] == pytest.approx(float(ages.mean()))
    assert result["count"] == int(ages.count())
    assert result["organizations"] == sorted(fed.org_ids)
    # the subtask: created by vantage6's client from the token's identity
    subtask = result["subtask"]
    assert subtask["parent_id"] == task["id"] and subtask["image"] == upstream_image
    assert [db["label"] for db in subtask["databases"]] == ["ages"]
    assert sorted(identity["organization_id"] for identity in result["partial_identities"]) \
        == sorted(fed.org_ids)
    assert {identity["task_id"] for identity in result["partial_identities"]} \
        == {subtask["id"]}
    assert {identity["collaboration_id"] for identity in result["partial_identities"]} \
        == {fed.collaboration}
    # the container reached the proxy, and nothing else
    assert result["outside"].startswith("failed"), result["outside"]
