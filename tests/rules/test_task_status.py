"""A task's status derived from its runs."""

from __future__ import annotations

import pytest

from v6lib.rules.task_status import derive_task_status
from v6lib.schemas.run_status import RunStatus

P, INIT, A, C = "pending", "initializing", "active", "completed"


@pytest.mark.parametrize(("runs", "expected"), [
    ([], RunStatus.PENDING),
    ([P, P], RunStatus.PENDING),
    ([P, INIT], RunStatus.ACTIVE),
    ([P, C], RunStatus.ACTIVE),
    ([A, A], RunStatus.ACTIVE),
    ([C, C], RunStatus.COMPLETED),
    ([C, "failed", "crashed"], RunStatus.FAILED),
    ([C, "not allowed", "killed by user"], RunStatus.KILLED),
    (["no docker image"], RunStatus.NO_IMAGE),
])
def test_derive_task_status(runs: list[str], expected: RunStatus) -> None:
    assert derive_task_status(runs) is expected
