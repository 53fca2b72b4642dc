"""The container tokens the node's proxy accepts: those of runs in flight on this node.

Why: the proxy opens sealed results with the node's private key and seals subtask
inputs on the caller's behalf. Were it to serve any bearer token, anyone who can reach
it (a local process, over ``127.0.0.1``) could have the node decrypt results with a
viewer's user token, another organization's token or the node's own. It serves only
the container tokens the node itself received when it claimed a run, and only while
that run is in flight: a finished run's token is refused even before it expires.

Tokens are kept as SHA-256 digests (in memory and in the run's journal row, so a
restarted node accepts the tokens of the runs it still watches) and compared in
constant time. The journal decides what "in flight" means: a run ends in the journal
before its container is stopped or its output read, whichever code path ends it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading

from v6lib.node.journal import Journal

__all__ = ["RunTokens", "token_digest"]


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token, as journaled."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class RunTokens:
    """Digests of the container tokens of this node's runs in flight, by run id."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._digests: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def load(self) -> int:
        """Take the tokens of the journal's runs in flight (after a restart); how many."""
        found = {entry.run_id: bytes.fromhex(entry.token_digest)
                 for entry in self.journal.in_flight() if entry.token_digest}
        with self._lock:
            self._digests.update(found)
        return len(found)

    def add(self, run_id: int, token: str) -> None:
        """Accept ``token`` for ``run_id`` from now on (journaled first)."""
        digest = token_digest(token)
        self.journal.update(run_id, token_digest=digest)
        with self._lock:
            self._digests[run_id] = bytes.fromhex(digest)

    def discard(self, run_id: int) -> None:
        with self._lock:
            self._digests.pop(run_id, None)

    def run_of(self, token: str) -> int | None:
        """The in-flight run whose container token ``token`` is, or None."""
        presented = bytes.fromhex(token_digest(token))
        with self._lock:
            candidates = list(self._digests.items())
        found = None
        for run_id, digest in candidates:  # every entry compared: no early exit
            if hmac.compare_digest(presented, digest):
                found = run_id
        if found is None:
            return None
        entry = self.journal.get(found)
        if entry is None or not entry.in_flight:
            self.discard(found)
            return None
        return found

    def accepts(self, token: str) -> bool:
        """Whether the proxy may serve a request bearing ``token``."""
        return self.run_of(token) is not None
