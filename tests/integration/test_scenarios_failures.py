"""Scenarios 3 and 5: one node's algorithm crashes; a request two nodes must refuse.

Real server, three real nodes (process runtime, in threads; isolation is not the point).

* 3: the algorithm dies (exit code 3) at one organization. Waiting returns promptly with
  the other two results and one failed outcome that names the organization, the exit
  code and the log line the algorithm printed.
* 5: a task asks for a database label one node lacks and an image another node's policy
  refuses. Both runs are refused before anything starts, with messages that say what
  and where; the third node runs it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from v6lib.errors import AlgorithmError
from v6lib.node.runtime.base import JobDatabase
from v6lib.schemas.run_status import RunStatus

from .conftest import (
    SCENARIO_IMAGE,
    SITES,
    Federation,
    LiveServer,
    ThreadNode,
    make_federation,
    marker_lines,
    node_options,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def federation(live_server: LiveServer, scenario_package: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    fed = make_federation(live_server, prefix="failures")
    try:
        for i in range(3):
            fed.nodes.append(ThreadNode(node_options(
                fed, i, tmp_path_factory.mktemp(fed.names[i]), scenario_package=scenario_package)))
        yield fed
    finally:
        fed.stop_nodes()


def test_a_crash_at_one_organization_returns_promptly_with_the_others(
        federation: Federation) -> None:
    fed = federation
    victim = fed.org_ids[1]
    began = time.monotonic()
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=fed.org_ids, name="one crashes",
        image=SCENARIO_IMAGE, input_={"method": "crash_at",
                                      "kwargs": {"organization": victim, "value": "ok"}})
    outcomes = fed.root.wait_for_results(task["id"], timeout=30, raise_on_failure=False)
    assert time.monotonic() - began < 30

    by_org = {o.organization_id: o for o in outcomes}
    assert sorted(by_org) == sorted(fed.org_ids)
    for org in (fed.org_ids[0], fed.org_ids[2]):
        assert by_org[org].status is RunStatus.COMPLETED
        assert by_org[org].result == {"echo": "ok", "organization": org}
    failed = by_org[victim]
    assert failed.status is RunStatus.FAILED
    assert "exited with code 3" in (failed.reason or "")
    assert f"organization {victim} crashes on purpose" in (failed.log or "")

    with pytest.raises(AlgorithmError) as caught:
        fed.root.wait_for_results(task["id"], timeout=5)
    message = str(caught.value)
    assert "1 of 3 run(s) failed" in message
    assert f"organization {victim} (failures org 1" in message
    assert "exited with code 3" in message
    assert "crashes on purpose" in message


def test_missing_label_and_refused_image_are_refused_before_anything_starts(
        live_server: LiveServer, scenario_package: Path, tmp_path: Path) -> None:
    fed = make_federation(live_server, prefix="refusals")
    both = {"default": JobDatabase("default", str(SITES[0]), "csv"),
            "extra": JobDatabase("extra", str(SITES[1]), "csv")}
    only_default = {"default": both["default"]}
    overrides = [
        {"databases": both},
        {"databases": only_default},                               # lacks 'extra'
        {"databases": both, "allowed_images": (r"v6-average:.*",)},  # refuses the image
    ]
    for i, extra in enumerate(overrides):
        fed.nodes.append(ThreadNode(node_options(fed, i, tmp_path / f"node{i}",
                                                 scenario_package=scenario_package, **extra)))
    try:
        marker = tmp_path / "refusals"
        task = fed.root.task.create(
            collaboration=fed.collaboration, organizations=fed.org_ids, name="misconfigured",
            image=SCENARIO_IMAGE, databases=["extra"],
            input_={"method": "sleep_echo",
                    "kwargs": {"seconds": 0, "value": 5, "marker": str(marker)}})
        outcomes = fed.root.wait_for_results(task["id"], timeout=30, raise_on_failure=False)
        by_org = {o.organization_id: o for o in outcomes}

        ran, no_label, no_image = (by_org[org] for org in fed.org_ids)
        assert ran.status is RunStatus.COMPLETED and ran.result == {"echo": 5, "slept": 0}
        assert no_label.status is RunStatus.NOT_ALLOWED
        assert no_label.reason == (f"database label 'extra' is not configured on node "
                                   f"'{fed.names[1]}'")
        assert no_image.status is RunStatus.NOT_ALLOWED
        assert no_image.reason == (f"image '{SCENARIO_IMAGE}' refused by node "
                                   f"'{fed.names[2]}': not in allowed_images")
        assert marker_lines(marker, fed.org_ids[0]) == ["started", "finished"]
        for index in (1, 2):  # nothing was started there
            assert marker_lines(marker, fed.org_ids[index]) == []
            assert fed.nodes[index].runtime.list_managed() == []
            assert not (tmp_path / f"node{index}" / "jobs").exists()
            assert [r["started_at"] for r in fed.root.run.from_task(task["id"])
                    if r["organization_id"] == fed.org_ids[index]] == [None]
    finally:
        fed.stop_nodes()
