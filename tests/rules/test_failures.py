"""RunOutcome and the failure message: what a researcher reads when a run fails."""

from __future__ import annotations

from v6lib.rules.failures import LOG_TAIL_LINES, RunOutcome, failure_error, log_tail
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
    assert text.splitlines()[0] == ("task 7: organization 3 (Hospital B): image "
                                    "refused by policy (and 1 other run(s) of 3)")
    assert "organization 3 (Hospital B) ended with status 'not allowed': image refused" in text
    assert "organization 4 ended with status 'crashed'" in text
    assert "Segmentation fault" in text
    assert error.exit_code == 70
    assert error.details["failed"] == [
        {"run_id": 2, "organization_id": 3, "status": "not allowed",
         "reason": "image refused by policy"},
        {"run_id": 3, "organization_id": 4, "status": "crashed", "reason": None}]
    assert "2 of 3 run(s) failed, 1 completed" in text


def test_without_a_reason_the_status_speaks() -> None:
    error = failure_error(1, [RunOutcome(5, 2, RunStatus.CRASHED, log="boom")])
    assert str(error).splitlines()[0] == "task 1: organization 2 failed: ended with status " \
        "'crashed'"


def test_a_failure_record_round_trips_as_one_bounded_line() -> None:
    from v6lib.rules.failures import (
        FAILURE_RECORD_LIMIT,
        failure_record,
        read_failure_record,
    )

    assert read_failure_record(failure_record("KeyError: 'age'", 1)) == "KeyError: 'age'"
    assert read_failure_record(failure_record("a\nsecond line\x1b[31m", 1)) == "a"
    assert read_failure_record(failure_record("x" * 10_000, 1)) == "x" * 2000
    hostile = [b"", b"{}", b"[1]", b'{"v6lib_failure": 3}', b'{"v6lib_failure": {}}',
               b"[" * 100_000, b'{"v6lib_failure": {"reason": "\\u0007bell"}}' + b" " *
               FAILURE_RECORD_LIMIT, b"\xff\xfe"]
    assert [read_failure_record(data) for data in hostile] == [None] * len(hostile)


def test_tracebacks_are_withheld_and_the_rest_of_the_log_kept() -> None:
    from v6lib.rules.failures import TRACEBACK_WITHHELD, without_tracebacks

    log = ("loading data\n"
           "Traceback (most recent call last):\n"
           '  File "/algorithm/a.py", line 3, in partial\n'
           "    raise KeyError(secret)\n"
           "    ^^^^^^^^^^^^^^^^^^^^^^\n"
           "KeyError: 'age'\n"
           "\n"
           "During handling of the above exception, another exception occurred:\n"
           "\n"
           "Traceback (most recent call last):\n"
           '  File "/algorithm/a.py", line 5, in partial\n'
           "ValueError: no age column\n"
           "done\n")
    assert without_tracebacks(log) == (
        f"loading data\n{TRACEBACK_WITHHELD}\nKeyError: 'age'\n\n"
        "During handling of the above exception, another exception occurred:\n\n"
        f"{TRACEBACK_WITHHELD}\nValueError: no age column\ndone\n")
    assert without_tracebacks("no failure here\n") == "no failure here\n"
