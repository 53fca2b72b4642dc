"""RunOutcome and the failure message: what a researcher reads when a run fails."""

from __future__ import annotations

from v6lib.client.outcome import LOG_TAIL_LINES, RunOutcome, failure_error, log_tail
from v6lib.schemas import RunStatus


def test_log_tail_keeps_the_last_lines() -> None:
    log = "\n".join(f"line {i}" for i in range(100))
    tail = log_tail(log)
    assert tail.splitlines()[-1] == "line 99"
    assert len(tail.splitlines()) == LOG_TAIL_LINES
    assert log_tail(None) == "" and log_tail("") == ""


def test_failure_error_counts_and_names() -> None:
    outcomes = [
        RunOutcome(1, 2, RunStatus.COMPLETED, result=1),
        RunOutcome(2, 3, RunStatus.NOT_ALLOWED, reason="image refused by policy"),
        RunOutcome(3, 4, RunStatus.CRASHED, log="Segmentation fault"),
    ]
    error = failure_error(7, outcomes, {3: "Hospital B"})
    text = str(error)
    assert text.startswith("task 7: 2 of 3 run(s) failed (1 completed")
    assert "organization 3 (Hospital B) ended with status 'not allowed': image refused" in text
    assert "organization 4 ended with status 'crashed'" in text
    assert "Segmentation fault" in text
    assert error.exit_code == 70
    assert [f["run_id"] for f in error.details["failed"]] == [2, 3]
