"""A sealed input replayed in a re-created task: the node refuses to open it again.

Whoever controls the server (an administrator, or an attacker who took it over) cannot
read sealed inputs, but can capture one, delete its task and create a new task with the
same uid, that input and another image: the input is still bound to (uid, organization),
so the node would open it and hand it to the new image. The seal now covers the image
too; the node, besides, remembers every task uid it has seen and refuses another task
with one of them before it opens anything. A real server and a real node (process
runtime, encrypted collaboration) show the node refuses, with that reason, never runs
the replayed task, and then carries on.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import (
    Federation,
    LiveServer,
    ThreadNode,
    marker_lines,
    wait_statuses,
)
from v6lib.crypto import TaskBinding, seal
from v6lib.schemas.run_status import RunStatus

from .conftest import sealed_site

pytestmark = pytest.mark.integration
TERMINAL = {s.value for s in RunStatus if s.is_terminal}


@pytest.fixture(scope="module")
def sealed(live_server: LiveServer, scenario_package: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Federation, Any]]:
    tmp = tmp_path_factory.mktemp("replay")
    fed, options, key = sealed_site(live_server, scenario_package, tmp)
    fed.root.setup_encryption(tmp / "key.pem")  # the researcher's organization's key
    fed.nodes.append(ThreadNode(options))
    try:
        yield fed, key
    finally:
        fed.stop_nodes()


def _post_task(fed: Federation, uid: str, image: str, sealed_input: str) -> dict[str, Any]:
    answer = requests.post(f"{fed.server.url}/task", timeout=30,
                           headers={"Authorization": f"Bearer {fed.root.token}"},
                           json={"collaboration_id": fed.collaboration, "name": "replay",
                                 "uid": uid, "image": image,
                                 "databases": [{"label": "default"}],
                                 "organizations": [{"id": fed.org_ids[0],
                                                    "input": sealed_input}]})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_replayed_sealed_input_is_refused(sealed: tuple[Federation, Any],
                                            tmp_path: Path) -> None:
    fed, key = sealed
    org = fed.org_ids[0]
    marker = tmp_path / "ran"
    uid = str(uuid.uuid4())
    plain = json.dumps({"method": "sleep_echo", "kwargs": {
        "seconds": 0, "value": "confidential input", "marker": str(marker)}}).encode()
    binding = TaskBinding(uid=uid, image="v6-scenario:test", initiator_id=org).input(org)
    blob = base64.b64encode(seal(plain, [key.public_key()], binding))
    original = _post_task(fed, uid, "v6-scenario:test", blob.decode())
    wait_statuses(fed.root, original["id"], {RunStatus.COMPLETED.value}, timeout=60)
    assert marker_lines(marker, org) == ["started", "finished"]
    _ordinary_task(fed)
    # Execute: capture the stored input, delete the task, re-create it with another image
    admin = fed.server.root()
    [run] = admin.run.from_task(original["id"])
    captured = run["input"]
    assert captured and "confidential" not in captured  # sealed: only the node opens it
    admin.task.delete(original["id"])
    replay = _post_task(fed, uid, "v6-scenario:other", captured)
    # Assert: refused with the reason, never run, nothing returned
    wait_statuses(fed.root, replay["id"], TERMINAL, timeout=60)
    [refused] = fed.root.run.from_task(replay["id"])
    assert refused["status"] == RunStatus.NOT_ALLOWED.value, refused
    assert refused["reason"] == (f"task uid {uid} was already used by task "
                                 f"{original['id']} on this node: refusing a replayed input")
    assert refused["result"] is None
    assert marker_lines(marker, org) == ["started", "finished"]
    assert replay["id"] != original["id"]
    _ordinary_task(fed)  # ... and the node carries on


def _ordinary_task(fed: Federation) -> None:
    task = fed.root.task.create(collaboration=fed.collaboration, organizations=fed.org_ids,
                                name="ordinary", image="v6-scenario:test",
                                input_={"method": "sleep_echo",
                                        "kwargs": {"seconds": 0, "value": "ordinary"}})
    assert fed.root.wait_for_results(task["id"], timeout=60) == [
        {"echo": "ordinary", "slept": 0}]
