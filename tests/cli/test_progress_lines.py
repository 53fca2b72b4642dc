"""The progress line ``v6 task create --wait`` prints for a run."""

from __future__ import annotations

from v6lib.cli.progress_lines import progress_line


def test_a_line_shows_the_organization_a_bar_the_percent_and_the_message() -> None:
    run = {"organization_id": 3, "progress": 0.25, "progress_message": "iteration 1/4"}
    assert progress_line(run, width=8) == "organization 3  [##------]  25%  iteration 1/4"


def test_no_message_and_out_of_range_values_still_make_a_line() -> None:
    assert progress_line({"organization_id": 1, "progress": 7}, width=4) == \
        "organization 1  [####] 100%"
    assert progress_line({"organization_id": 1, "progress": None}, width=4) == \
        "organization 1  [----]   0%"
