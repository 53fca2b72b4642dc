"""``info``, ``warn`` and ``error``: the one-line progress messages vantage6 algorithms print.

They exist so an algorithm ported from vantage6 keeps its calls unchanged; the lines go
to standard output, prefixed as vantage6 prefixes them, so they read the same in the
node's log of the run (and in the test's output on a MockNetwork).
"""

from __future__ import annotations

import sys

__all__ = ["error", "info", "warn"]


def _say(level: str, message: str) -> None:
    sys.stdout.write(f"{level} > {message}\n")
    sys.stdout.flush()


def info(message: str) -> None:
    """Report progress (``info > message``)."""
    _say("info", message)


def warn(message: str) -> None:
    """Report something the data owner or researcher may want to look at."""
    _say("warn", message)


def error(message: str) -> None:
    """Report a problem; it does not stop the run (raise a ``v6lib.errors`` error for that)."""
    _say("error", message)
