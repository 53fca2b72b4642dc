"""Finding 13: a captured sealed input replayed into a new task with another image.

The probe deleted a task, created another with the same ``uid``, the captured input and
a different image, and the node opened the input. Now the envelope's binding covers the
image and the initiating organization, so the node refuses without running anything.
Real server, real node (process runtime), the real researcher's client.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import (
    ThreadNode,
    live_server,
    make_federation,
    marker_lines,
    node_options,
)
from v6lib.crypto import generate_private_key, public_key_b64, save_private_key
from v6lib.schemas.run_status import RunStatus

__all__ = ["live_server"]

pytestmark = pytest.mark.integration


def test_a_replayed_input_with_another_image_never_runs(live_server: object,
                                                        scenario_package: Path,
                                                        tmp_path: Path) -> None:
    fed = make_federation(live_server, 1, encrypted=True, prefix="replay")  # type: ignore[arg-type]
    org = fed.org_ids[0]
    key = generate_private_key(2048)
    save_private_key(key, tmp_path / "key.pem")
    fed.root.organization.update(org, public_key=public_key_b64(key))
    fed.root.setup_encryption(tmp_path / "key.pem")
    node = ThreadNode(node_options(fed, 0, tmp_path / "node", scenario_package=scenario_package,
                                   encryption_enabled=True,
                                   private_key_path=tmp_path / "key.pem"))
    marker = tmp_path / "ran"
    try:
        honest = fed.root.task.create(
            collaboration=fed.collaboration, organizations=[org], name="honest",
            image="v6-scenario:test", input_={"method": "sleep_echo", "kwargs": {
                "seconds": 0, "value": 1, "marker": str(marker)}})
        fed.root.wait_for_results(honest["id"], timeout=30)
        ran = marker_lines(marker, org)
        assert ran == ["started", "finished"]
        [run] = fed.root.run.from_task(honest["id"])
        captured = fed.root.transport.get(f"/run/{run['id']}")["input"]

        # Replay: delete the task, create another with the same uid, the captured input
        # and another image that the node's policy allows.
        fed.root.task.delete(honest["id"])
        replayed = fed.root.transport.post("/task", json={
            "collaboration_id": fed.collaboration, "name": "replayed", "uid": honest["uid"],
            "image": "v6-average:latest", "databases": [{"label": "default"}],
            "organizations": [{"id": org, "input": captured}]})
        [outcome] = fed.root.wait_for_results(replayed["id"], timeout=30,
                                              raise_on_failure=False)
        assert outcome.status in (RunStatus.START_FAILED, RunStatus.NOT_ALLOWED), outcome
        assert outcome.result is None
        assert marker_lines(marker, org) == ran  # the algorithm did not run again
        reason = outcome.reason or ""
        assert "sealed for another task, image" in reason or "replay" in reason, reason
        assert "v6-average" not in json.dumps(fed.root.result.from_task(replayed["id"]))
    finally:
        node.stop()


def test_the_seal_names_what_it_is_bound_to(tmp_path: Path) -> None:
    """A reading aid: what an input is bound to, as the researcher's client seals it."""
    from v6lib.crypto import TaskBinding

    binding = TaskBinding.of({"uid": "u", "image": "v6-average:latest", "init_org_id": 3})
    assert json.dumps(binding.input(2).__dict__, sort_keys=True) == json.dumps(
        {"image": "v6-average:latest", "initiator_id": 3, "organization_id": 2,
         "purpose": "input", "task_uid": "u"}, sort_keys=True)
