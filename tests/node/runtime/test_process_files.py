"""The process runtime's exit, log and state files, read as files a run could have replaced."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from v6lib.node.runtime.process_files import exit_code, log_tail, run_state


def _within_seconds(fn: Any, *args: Any) -> Any:
    """``fn(*args)``, failing the test if it blocks (a FIFO would block a plain open)."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(fn(*args)), daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), f"{fn.__name__} blocked"
    return box[0]


def test_plain_files_are_read(tmp_path: Path) -> None:
    (tmp_path / "run-1.exit").write_text("3")
    (tmp_path / "run-1.log").write_text("x" * 50 + "the end")
    (tmp_path / "run-1.json").write_text(json.dumps({"pid": 7, "run_id": 1}))
    assert exit_code(tmp_path / "run-1.exit") == 3
    assert log_tail(tmp_path / "run-1.log", 7) == "[log truncated to the last 7 bytes]\nthe end"
    assert run_state(tmp_path / "run-1.json") == {"pid": 7, "run_id": 1}
    assert exit_code(tmp_path / "none.exit") is None and log_tail(tmp_path / "none", 5) == ""


def test_links_and_pipes_in_their_place_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("42 a secret of the node")
    secret.chmod(0o600)
    for name in ("run-1.exit", "run-1.log", "run-1.json"):
        (tmp_path / name).symlink_to(secret)
    for name in ("run-2.exit", "run-2.log", "run-2.json"):
        os.mkfifo(tmp_path / name)
    for run in (1, 2):
        assert _within_seconds(exit_code, tmp_path / f"run-{run}.exit") is None
        assert _within_seconds(run_state, tmp_path / f"run-{run}.json") is None
        tail = _within_seconds(log_tail, tmp_path / f"run-{run}.log", 1000)
        assert tail.startswith("[v6lib: the node did not read the run's log: ")
        assert "secret" not in tail
