"""The node's audit trail: an append-only, hash-chained record of every run it was given.

Why: a data owner must be able to show afterwards what left the node, for whom and under
which decision, and to notice when that record was changed. Each line of
``audit.jsonl`` is one JSON entry with its number (``seq``), the SHA-256 of the entry
before it (``prev``; 64 zeros for the first) and its own SHA-256 (``hash``, over the
entry without ``hash``, as canonical JSON: sorted keys, no spaces). So

* an edited entry no longer matches its own ``hash``;
* a removed or moved entry breaks ``seq`` and the ``prev`` of the entry after it;
* an entry rewritten *with* a new hash breaks the ``prev`` of the next one, and
  rewriting the whole tail is caught by the chain head the node publishes to the
  server (``seq`` and ``hash`` of the last entry): :func:`verify` compares with it.

One writer (the node daemon, under a lock); each entry is written with one ``write``
and flushed to disk as the run's outcome is journaled (see the executor).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AUDIT_FILE", "GENESIS", "AuditTrail", "ChainHead", "Verification", "entries",
           "entry_hash", "verify"]

log = logging.getLogger(__name__)

AUDIT_FILE = "audit.jsonl"
GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainHead:
    """How many entries the trail holds and the hash of the last one."""

    count: int
    hash: str


@dataclass(frozen=True)
class Verification:
    """The result of :func:`verify`: ``problem`` names the first broken entry."""

    head: ChainHead
    problem: str | None = None
    entry: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _canonical(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str).encode("utf-8")


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The SHA-256 of an entry without its ``hash`` field."""
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})
                          ).hexdigest()


def now() -> str:
    """The time as the trail writes it (UTC, ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditTrail:
    """Appends entries to one node's ``audit.jsonl``.

    Opening reads the last complete entry to continue the chain; a last line without
    its newline (a write cut off by a crash) is removed first, as it was never recorded.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_line()
        self._head = _last_head(path)

    @property
    def head(self) -> ChainHead:
        with self._lock:
            return self._head

    def append(self, record: Mapping[str, Any]) -> ChainHead:
        """Add one entry (``record`` plus ``seq``, ``prev``, ``at`` and ``hash``)."""
        with self._lock:
            entry = {**record, "seq": self._head.count + 1, "prev": self._head.hash}
            entry.setdefault("at", now())
            entry["hash"] = entry_hash(entry)
            line = _canonical(entry) + b"\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fdatasync(fd)  # the data, not the times: what recovery needs
            finally:
                os.close(fd)
            self._head = ChainHead(entry["seq"], entry["hash"])
            return self._head

    def _drop_partial_line(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb+") as file:
            data = file.read()
            if not data or data.endswith(b"\n"):
                return
            keep = data.rfind(b"\n") + 1
            log.warning("audit trail %s: removing a partial last entry (%d bytes) left by "
                        "an interrupted write", self.path, len(data) - keep)
            file.truncate(keep)


def _last_head(path: Path) -> ChainHead:
    last = None
    for _, _, entry in _lines(path):
        last = entry
    if not isinstance(last, dict):
        return ChainHead(0, GENESIS)
    return ChainHead(int(last.get("seq", 0)), str(last.get("hash", GENESIS)))


def _lines(path: Path) -> Iterator[tuple[int, bytes, Any]]:
    """(line number, raw line, parsed entry or None) for every line of the trail."""
    if not path.exists():
        return
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            yield number, raw, parsed


def entries(path: Path) -> list[dict[str, Any]]:
    """Every entry that parses, in file order (for ``show`` and ``export``)."""
    return [entry for _, _, entry in _lines(path) if isinstance(entry, dict)]


def verify(path: Path, published: ChainHead | None = None) -> Verification:
    """Check the whole chain; the first broken entry is named by its line number.

    Args:
        path: the trail.
        published: the head the node last published (from the server); the trail must
            hold that entry, unchanged, so truncation or a rewritten tail shows.
    """
    previous, count, seen = GENESIS, 0, {}
    for number, _, entry in _lines(path):
        problem = _entry_problem(entry, number, previous)
        if problem:
            return Verification(ChainHead(count, previous), problem, number)
        previous, count = entry["hash"], number
        seen[number] = previous
    head = ChainHead(count, previous)
    if published is not None and published.count > 0:
        if published.count > count:
            return Verification(head, f"the trail ends at entry {count} but entry "
                                f"{published.count} was published: entries were removed",
                                count + 1)
        if seen.get(published.count) != published.hash:
            return Verification(head, f"entry {published.count} differs from the one "
                                "published: the trail was rewritten", published.count)
    return Verification(head)


def _entry_problem(entry: Any, number: int, previous: str) -> str | None:
    if not isinstance(entry, dict):
        return f"entry {number} is not a JSON object"
    if entry.get("seq") != number:
        return (f"entry {number} has seq {entry.get('seq')!r}: entries were removed, "
                "added or reordered")
    if entry.get("hash") != entry_hash(entry):
        return f"entry {number} does not match its hash: it was edited"
    if entry.get("prev") != previous:
        return (f"entry {number} does not follow entry {number - 1}: an entry was "
                "removed, replaced or reordered")
    return None
