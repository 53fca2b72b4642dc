"""Caps on long-polls per caller and per worker process."""

from __future__ import annotations

import pytest

from v6lib.errors import RateLimitedError, ServerBusyError
from v6lib.server.events.long_polls import LongPollGate, caller_key, long_poll_slots
from v6lib.server.permissions.principal import Principal


@pytest.mark.parametrize(("threads", "slots"), [(1, 0), (2, 1), (4, 3), (8, 6), (16, 12),
                                                (32, 24)])
def test_a_quarter_of_the_threads_is_kept_free(threads: int, slots: int) -> None:
    assert long_poll_slots(threads) == slots


def test_per_caller_cap_then_release() -> None:
    gate = LongPollGate(slots=10, per_caller=2, retry_after=7)
    with gate.hold("user:1"), gate.hold("user:1"):
        with pytest.raises(RateLimitedError, match="long-polls") as caught, \
                gate.hold("user:1"):
            pass
        assert caught.value.retry_after == 7
        with gate.hold("user:2"):  # another caller is not affected
            assert gate.held == 3
    assert gate.held == 0
    with gate.hold("user:1"):
        pass


def test_total_cap_answers_busy() -> None:
    gate = LongPollGate(slots=2, per_caller=2)
    with gate.hold("a"), gate.hold("b"):
        with pytest.raises(ServerBusyError) as caught, gate.hold("c"):
            pass
        assert caught.value.http_status == 503 and caught.value.retry_after == 5
    with gate.hold("c"):
        assert gate.held == 1


def test_a_failing_wait_gives_its_slot_back() -> None:
    gate = LongPollGate(slots=1, per_caller=1)
    with pytest.raises(ZeroDivisionError), gate.hold("a"):
        1 / 0  # noqa: B018
    assert gate.held == 0
    with gate.hold("a"):
        pass


def test_no_slots_refuses_every_long_poll() -> None:
    with pytest.raises(ServerBusyError), LongPollGate(slots=0).hold("a"):
        pass


def _principal(kind: str, **ids: int) -> Principal:
    return Principal(kind=kind, organization_id=1, collaboration_ids=frozenset(),
                     collab_org_ids=frozenset(), rules=frozenset(), **ids)


def test_caller_keys() -> None:
    assert caller_key(_principal("user", user_id=3)) == "user:3"
    assert caller_key(_principal("node", node_id=4)) == "node:4"
    assert caller_key(_principal("container", run_id=5, node_id=4)) == "container:5"
