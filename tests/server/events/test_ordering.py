"""In-order delivery across id gaps (pure function, no database)."""

from __future__ import annotations

from v6lib.server.events.ordering import Gap, accept_in_order
from v6lib.server.events.records import EventRecord


def rec(event_id: int) -> EventRecord:
    return EventRecord(event_id, "run_created", 1, None, None, None, None, None)


def ids(records: list[EventRecord]) -> list[int]:
    return [record.id for record in records]


def test_contiguous_ids_are_all_accepted():
    accepted, gap = accept_in_order([rec(4), rec(5)], 3, None, gap_timeout=2, now=10)
    assert (ids(accepted), gap) == ([4, 5], None)


def test_records_behind_a_gap_are_held():
    accepted, gap = accept_in_order([rec(4), rec(6), rec(7)], 3, None, gap_timeout=2, now=10)
    assert ids(accepted) == [4]
    assert gap == Gap(5, 10)


def test_gap_keeps_its_first_sighting_time():
    _, gap = accept_in_order([rec(6)], 4, Gap(5, 10), gap_timeout=2, now=11)
    assert gap == Gap(5, 10)


def test_gap_is_skipped_after_the_timeout():
    accepted, gap = accept_in_order([rec(6), rec(7)], 4, Gap(5, 10), gap_timeout=2, now=12.5)
    assert (ids(accepted), gap) == ([6, 7], None)


def test_filled_gap_delivers_in_order():
    accepted, gap = accept_in_order([rec(5), rec(6)], 4, Gap(5, 10), gap_timeout=2, now=11)
    assert (ids(accepted), gap) == ([5, 6], None)


def test_zero_timeout_never_waits():
    accepted, gap = accept_in_order([rec(9)], 3, None, gap_timeout=0, now=0)
    assert (ids(accepted), gap) == ([9], None)


def test_nothing_new():
    assert accept_in_order([], 3, None, gap_timeout=2, now=0) == ([], None)
