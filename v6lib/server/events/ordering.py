"""Deliver events in id order even when PostgreSQL commits them out of order.

Ids are taken at insert but become visible at commit, so id 11 may be visible before
id 10. Delivering 11 first would move every cursor past 10 for good. A missing id is
therefore waited for up to ``gap_timeout`` seconds, then skipped (its transaction
rolled back, or is extremely slow).
"""

from __future__ import annotations

from dataclasses import dataclass

from v6lib.server.events.records import EventRecord

__all__ = ["Gap", "accept_in_order"]


@dataclass(frozen=True, slots=True)
class Gap:
    """The first missing id and when (monotonic seconds) it was first noticed."""

    missing_id: int
    since: float


def accept_in_order(
    records: list[EventRecord],
    latest: int,
    gap: Gap | None,
    *,
    gap_timeout: float,
    now: float,
) -> tuple[list[EventRecord], Gap | None]:
    """The prefix of ``records`` (sorted by id) that may be delivered after ``latest``,
    and the gap still being waited for (None when there is none).

    With ``gap_timeout <= 0`` every record is accepted (SQLite commits in id order).
    """
    accepted: list[EventRecord] = []
    expected = latest + 1
    for record in records:
        if record.id != expected and gap_timeout > 0:
            if gap is None or gap.missing_id != expected:
                gap = Gap(expected, now)
            if now - gap.since < gap_timeout:
                return accepted, gap
        gap = None
        accepted.append(record)
        expected = record.id + 1
    return accepted, None
