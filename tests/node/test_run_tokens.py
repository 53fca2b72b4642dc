"""The proxy's token rule: container tokens of this node's runs in flight, nothing else."""

from __future__ import annotations

from pathlib import Path

from v6lib.node.journal import Journal
from v6lib.node.run_tokens import RunTokens, token_digest


def test_only_the_token_of_a_run_in_flight_is_accepted(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    tokens = RunTokens(journal)
    journal.receive(1, task_id=10)
    tokens.add(1, "container-token-1")
    assert tokens.accepts("container-token-1") and tokens.run_of("container-token-1") == 1
    for other in ("container-token-2", "container-token-", "", "a user's token"):
        assert not tokens.accepts(other)
    journal.close()


def test_the_journal_holds_a_digest_never_the_token(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    journal.receive(1, task_id=10)
    RunTokens(journal).add(1, "container-token-1")
    entry = journal.get(1)
    assert entry is not None and entry.token_digest == token_digest("container-token-1")
    journal.close()
    assert b"container-token-1" not in (tmp_path / "journal.sqlite").read_bytes()


def test_a_finished_runs_token_is_refused_whoever_ended_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    tokens = RunTokens(journal)
    for run_id in (1, 2):
        journal.receive(run_id, task_id=10)
        tokens.add(run_id, f"container-token-{run_id}")
    journal.finish(1, "completed")  # no discard: the journal alone decides
    journal.abandon(2, "taken elsewhere")
    assert not tokens.accepts("container-token-1")
    assert not tokens.accepts("container-token-2")
    journal.close()


def test_a_restarted_node_accepts_the_tokens_of_runs_still_in_flight(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    tokens = RunTokens(journal)
    for run_id in (1, 2):
        journal.receive(run_id, task_id=10)
        tokens.add(run_id, f"container-token-{run_id}")
    journal.finish(2, "completed")
    journal.close()
    reopened = Journal(tmp_path / "journal.sqlite")
    again = RunTokens(reopened)
    assert not again.accepts("container-token-1")  # nothing before loading
    assert again.load() == 1
    assert again.accepts("container-token-1")
    assert not again.accepts("container-token-2")
    reopened.close()


def test_discard_forgets_a_token(tmp_path: Path) -> None:
    journal = Journal(":memory:")
    tokens = RunTokens(journal)
    journal.receive(1, task_id=10)
    tokens.add(1, "t")
    tokens.discard(1)
    assert not tokens.accepts("t")
