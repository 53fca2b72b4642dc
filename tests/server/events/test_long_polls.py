"""Caps on long-polls per caller and per worker process."""

from __future__ import annotations

import pytest

from v6lib.errors import RateLimitedError
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


def test_beyond_the_total_cap_a_poll_is_not_held() -> None:
    gate = LongPollGate(slots=2, per_caller=2)
    with gate.hold("a") as a, gate.hold("b") as b:
        assert a and b
        with gate.hold("c") as c:
            assert c is False and gate.held == 2
        assert gate.held == 2  # an unheld poll gives nothing back on the way out
    with gate.hold("c") as c:
        assert c is True and gate.held == 1


def test_a_failing_wait_gives_its_slot_back() -> None:
    gate = LongPollGate(slots=1, per_caller=1)
    with pytest.raises(ZeroDivisionError), gate.hold("a"):
        1 / 0  # noqa: B018
    assert gate.held == 0
    with gate.hold("a"):
        pass


def test_no_slots_holds_no_long_poll() -> None:
    gate = LongPollGate(slots=0)
    with gate.hold("a") as granted:
        assert granted is False and gate.held == 0


def _principal(kind: str, **ids: int) -> Principal:
    return Principal(kind=kind, organization_id=1, collaboration_ids=frozenset(),
                     collab_org_ids=frozenset(), rules=frozenset(), **ids)


def test_caller_keys() -> None:
    assert caller_key(_principal("user", user_id=3)) == "user:3"
    assert caller_key(_principal("node", node_id=4)) == "node:4"
    assert caller_key(_principal("container", run_id=5, node_id=4)) == "container:5"
