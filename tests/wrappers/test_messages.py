"""vantage6's progress messages, for algorithms ported unchanged."""

from __future__ import annotations

import pytest

from v6lib.wrappers import error, info, warn


def test_messages_are_prefixed_lines_on_standard_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    info("Collecting participating organizations")
    warn("only one organization")
    error("column missing")

    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "info > Collecting participating organizations",
        "warn > only one organization",
        "error > column missing",
    ]
    assert captured.err == ""
