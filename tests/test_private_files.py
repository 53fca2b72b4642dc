"""Owner-only files: 0600 from creation on, atomic replacement, one winner when racing."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from v6lib.private_files import (
    make_private_dir,
    private_sqlite_file,
    touch_private,
    write_private,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_private_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        target = tmp_path / "new" / "dir" / "secret.txt"
        assert write_private(target, "s3cret")
    finally:
        os.umask(old)
    assert target.read_text() == "s3cret" and _mode(target) == 0o600
    assert _mode(tmp_path / "new") == _mode(tmp_path / "new" / "dir") == 0o700
    assert [p.name for p in target.parent.iterdir()] == ["secret.txt"]  # no temporary left


def test_replacing_a_wider_file_makes_it_private(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, b"new")
    assert target.read_bytes() == b"new" and _mode(target) == 0o600


def test_exclusive_never_replaces_and_one_racer_wins(tmp_path: Path) -> None:
    target = tmp_path / "key"
    results: dict[int, bool] = {}

    def race(n: int) -> None:
        results[n] = write_private(target, f"key-{n}", exclusive=True)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [n for n, won in results.items() if won]
    assert len(winners) == 1
    assert target.read_text() == f"key-{winners[0]}"
    assert not write_private(target, "late", exclusive=True)
    assert target.read_text() == f"key-{winners[0]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def test_existing_directories_keep_their_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    make_private_dir(shared / "mine")
    assert _mode(shared) == 0o755 and _mode(shared / "mine") == 0o700


def test_touch_and_sqlite_files_are_tightened(tmp_path: Path) -> None:
    old = tmp_path / "server.log"
    old.write_text("line\n")
    old.chmod(0o644)
    touch_private(old)
    assert _mode(old) == 0o600 and old.read_text() == "line\n"
    database = tmp_path / "db.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").write_bytes(b"")
        Path(f"{database}{suffix}").chmod(0o644)
    private_sqlite_file(database)
    for suffix in ("", "-wal", "-shm"):
        assert _mode(Path(f"{database}{suffix}")) == 0o600
    fresh = private_sqlite_file(tmp_path / "sub" / "fresh.sqlite")
    assert fresh.stat().st_size == 0 and _mode(fresh) == 0o600
