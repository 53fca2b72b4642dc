"""Log files are 0600 from the first line on, after rotation too."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from v6lib.config.common import LoggingConfig
from v6lib.log_files import file_handler


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_log_files_and_their_rotations_are_private(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "server.log"
    (tmp_path / "logs").mkdir()
    log_file.write_text("from an earlier version\n")
    log_file.chmod(0o644)
    Path(f"{log_file}.1").write_text("older\n")
    Path(f"{log_file}.1").chmod(0o644)
    handler = file_handler(LoggingConfig(file=log_file, max_size=1, backup_count=3))
    logger = logging.getLogger("tests.log_files")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert _mode(log_file) == 0o600 and _mode(Path(f"{log_file}.1")) == 0o600
        for n in range(60):  # more than 1 kB: at least one rollover
            logger.warning("line %d %s", n, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    rotated = sorted(log_file.parent.glob("server.log*"))
    assert len(rotated) >= 3
    assert all(_mode(path) == 0o600 for path in rotated), [
        (p.name, oct(_mode(p))) for p in rotated]


def test_new_log_directory_is_private(tmp_path: Path) -> None:
    handler = file_handler(LoggingConfig(file=tmp_path / "new" / "node.log"))
    handler.close()
    assert _mode(tmp_path / "new") == 0o700
    assert _mode(tmp_path / "new" / "node.log") == 0o600
