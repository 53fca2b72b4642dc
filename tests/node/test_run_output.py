"""From a run's output file to its outcome: JSON checks, sealing, and hostile outputs."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from v6lib.crypto import Binding, generate_private_key, open_sealed, open_stream, public_key_b64
from v6lib.node import run_output
from v6lib.node.journal import Journal, JournalEntry
from v6lib.node.keys import NodeKeys
from v6lib.node.result_files import ResultFiles
from v6lib.node.run_output import Outcome, OutputCollector, json_problem
from v6lib.schemas.run_status import RunStatus

ORG = 4
KEY = generate_private_key(2048)
RESULT = Binding("uid-3", ORG, "result", "img:1", 1)  # what the node's result is bound to


@pytest.mark.parametrize(("data", "ok"), [
    (b'{"a": 1}', True), (b"[1, 2]", True), (b'"x"', True), (b"3", True),
    (b"", False), (b"{nope", False), (b"NaN-ish", False),
])
def test_output_json_check(data: bytes, ok: bool) -> None:
    assert (json_problem(data) is None) is ok


def test_large_output_gets_a_cheap_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_output, "FULL_CHECK_LIMIT", 10)
    assert json_problem(b'{"a": "' + b"x" * 100 + b'"}') is None
    assert json_problem(b'{"a": "' + b"x" * 100) is not None


def _entry(journal: Journal) -> JournalEntry:
    journal.receive(7, task_id=3, task_uid="uid-3", image="img:1", init_org_id=1,
                    recipient_key=public_key_b64(KEY))
    entry = journal.get(7)
    assert entry is not None
    return entry


def _collector(results: ResultFiles | None, *, encrypted: bool = False,
               limit: int = 1 << 30) -> OutputCollector:
    keys = NodeKeys(encrypted=encrypted, private_key=KEY if encrypted else None,
                    organization_getter=lambda i: {"id": i})
    return OutputCollector(keys=keys, organization_id=ORG, owner=os.geteuid(), limit=limit,
                           results=results, encrypted=encrypted)


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "run" / "output"
    folder.mkdir(parents=True)
    return folder / "output"


def test_a_small_output_is_kept_in_memory(tmp_path: Path, output: Path) -> None:
    output.write_bytes(b'{"n": 1}')
    outcome = _collector(None).collect(_entry(Journal(":memory:")), output)
    assert outcome == Outcome(RunStatus.COMPLETED, b'{"n": 1}')


def test_a_small_output_is_sealed_for_the_researcher(output: Path) -> None:
    output.write_bytes(b'{"n": 2}')
    outcome = _collector(None, encrypted=True).collect(_entry(Journal(":memory:")), output)
    assert outcome.status is RunStatus.COMPLETED and outcome.result is not None
    assert open_sealed(outcome.result, KEY, RESULT) == b'{"n": 2}'


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_big_output_is_streamed_into_the_result_files(
        tmp_path: Path, output: Path, monkeypatch: pytest.MonkeyPatch, encrypted: bool) -> None:
    monkeypatch.setattr(run_output, "BIG_RESULT_BYTES", 100)
    content = b'["' + b"x" * 5000 + b'"]'
    output.write_bytes(content)
    results = ResultFiles(tmp_path / "results")
    outcome = _collector(results, encrypted=encrypted).collect(
        _entry(Journal(":memory:")), output)
    assert outcome == Outcome(RunStatus.COMPLETED)
    stored = results.path(7).read_bytes()
    if encrypted:
        opened = io.BytesIO()
        open_stream(io.BytesIO(stored), opened, KEY, RESULT)
        stored = opened.getvalue()
    assert stored == content


def test_a_big_output_that_is_not_json_is_unexpected(
        tmp_path: Path, output: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_output, "BIG_RESULT_BYTES", 10)
    output.write_bytes(b"[" + b"1," * 100)
    results = ResultFiles(tmp_path / "results")
    outcome = _collector(results).collect(_entry(Journal(":memory:")), output)
    assert outcome.status is RunStatus.UNEXPECTED_OUTPUT
    assert "not JSON" in str(outcome.reason) and not results.exists(7)


def test_no_output_file(output: Path) -> None:
    outcome = _collector(None).collect(_entry(Journal(":memory:")), output)
    assert outcome == Outcome(RunStatus.UNEXPECTED_OUTPUT,
                              reason="the algorithm wrote no output file")


@pytest.mark.parametrize("big", [False, True])
def test_a_link_to_a_host_file_is_never_read(tmp_path: Path, output: Path, big: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": "' + "s" * 500 + '"}')
    secret.chmod(0o600)
    output.symlink_to(secret)
    monkeypatch.setattr(run_output, "BIG_RESULT_BYTES", 100 if big else 1 << 30)
    results = ResultFiles(tmp_path / "results")
    outcome = _collector(results).collect(_entry(Journal(":memory:")), output)
    assert outcome == Outcome(
        RunStatus.UNEXPECTED_OUTPUT,
        reason="the output file is a symbolic link; the node only reads regular files the "
               "algorithm wrote itself")
    assert list(results.directory.iterdir()) == []


def test_an_output_above_the_limit_is_refused(output: Path) -> None:
    output.write_bytes(b"[" + b"1," * 600 + b"1]")
    outcome = _collector(None, limit=1000).collect(_entry(Journal(":memory:")), output)
    assert outcome.status is RunStatus.UNEXPECTED_OUTPUT and outcome.result is None
    assert "more than the 1000 bytes the node accepts" in str(outcome.reason)


def test_a_failed_runs_own_reason_is_read_from_its_record(output: Path) -> None:
    from v6lib.rules.failures import failure_record

    output.write_bytes(failure_record("ZeroDivisionError: division by zero", 1))
    assert _collector(None).failure_reason(output) == "ZeroDivisionError: division by zero"
    output.unlink()
    assert _collector(None).failure_reason(output) is None


def test_a_failure_record_behind_a_link_or_a_pipe_is_not_read(tmp_path: Path,
                                                             output: Path) -> None:
    from v6lib.rules.failures import failure_record

    secret = tmp_path / "secret.json"
    secret.write_bytes(failure_record("SECRET of the host", 1))
    secret.chmod(0o600)
    output.symlink_to(secret)
    assert _collector(None).failure_reason(output) is None
    output.unlink()
    os.mkfifo(output)
    assert _collector(None).failure_reason(output) is None  # and it did not block


def _guarded(results: ResultFiles | None, *, encrypted: bool = False,
             rows: tuple[int, ...] = ()) -> OutputCollector:
    from dataclasses import replace

    from v6lib.rules.disclosure import DisclosurePolicy, DisclosureRules

    rules = DisclosureRules(DisclosurePolicy(min_cell_count=5, refuse_row_level=True),
                            per_image=(("trusted:.*", DisclosurePolicy()),))
    return replace(_collector(results, encrypted=encrypted), disclosure=rules,
                   input_rows=lambda: rows)


def _crosstab() -> bytes:
    import pandas as pd

    from v6lib.serialization import dumps
    from v6lib.wrappers.aggregates import CountTable

    sex = pd.Series(["F"] * 6 + ["M"] * 2, name="sex")
    island = pd.Series(["biscoe"] * 6 + ["islands"] * 2, name="island")
    return dumps({"table": CountTable(pd.crosstab(island, sex))})


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("encrypted", [False, True])
def test_a_small_cell_result_is_refused_and_never_kept(
        tmp_path: Path, output: Path, monkeypatch: pytest.MonkeyPatch, big: bool,
        encrypted: bool) -> None:
    monkeypatch.setattr(run_output, "BIG_RESULT_BYTES", 10 if big else 1 << 30)
    output.write_bytes(_crosstab())
    results = ResultFiles(tmp_path / "results")
    outcome = _guarded(results, encrypted=encrypted).collect(_entry(Journal(":memory:")),
                                                             output)
    assert outcome == Outcome(RunStatus.NOT_ALLOWED, reason=(
        "refused by min_cell_count=5 at result['table'] (cell ('islands', 'M') = 2)"))
    assert outcome.output_digest is not None and not results.exists(7)


def test_a_row_level_frame_is_refused_with_the_nodes_row_count(output: Path) -> None:
    import pandas as pd

    from v6lib.serialization import dumps

    output.write_bytes(dumps(pd.DataFrame({"mass": range(8)})))
    outcome = _guarded(None, rows=(8,)).collect(_entry(Journal(":memory:")), output)
    assert outcome.status is RunStatus.NOT_ALLOWED
    assert outcome.reason == ("refused by refuse_row_level at result (a DataFrame of 8 rows; "
                              "a database of this run has 8 rows)")


def test_an_image_with_rules_of_its_own_gets_them(output: Path) -> None:
    journal = Journal(":memory:")
    journal.receive(7, task_id=3, task_uid="uid-3", image="trusted:1", init_org_id=1)
    output.write_bytes(_crosstab())
    entry = journal.get(7)
    assert entry is not None
    assert _guarded(None).collect(entry, output).status is RunStatus.COMPLETED
