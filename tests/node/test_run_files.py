"""A run's folders: made fresh for each start, removed without following a run's links."""

from __future__ import annotations

import os
from pathlib import Path

from v6lib.node.run_files import prepare_run_files, remove_run_files, run_paths


def _deep_tree(top: Path, depth: int) -> None:
    """``top/d/d/.../d`` ``depth`` levels deep (deeper than the recursion limit)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        deeper = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(fd)


def test_the_layout_keeps_input_and_token_out_of_the_output_folder(tmp_path: Path) -> None:
    paths = run_paths(tmp_path, 3, 9)
    prepare_run_files(paths, b"{}", "token")
    assert paths.output_file == tmp_path / "jobs" / "3" / "9" / "output" / "output"
    assert sorted(p.name for p in paths.run_dir.iterdir()) == ["input", "output", "token"]
    assert list(paths.output_dir.iterdir()) == []
    assert (paths.input_file.stat().st_mode & 0o777, paths.token_file.read_text()) == (
        0o600, "token")


def test_removal_follows_no_link_and_copes_with_any_depth(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("the node's")
    paths = run_paths(tmp_path / "node", 3, 9)
    prepare_run_files(paths, b"{}", "token")
    (paths.output_dir / "link").symlink_to(outside)
    (paths.temporary_folder / "link").symlink_to(outside / "keep")
    _deep_tree(paths.output_dir, 3000)
    remove_run_files(paths, last_of_job=True)
    assert not paths.job_dir.exists()
    assert (outside / "keep").read_text() == "the node's"


def test_a_stale_run_folder_is_replaced_whatever_it_holds(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    paths = run_paths(tmp_path / "node", 3, 9)
    prepare_run_files(paths, b"{}", "token")
    paths.input_file.unlink()
    paths.input_file.symlink_to(victim)
    _deep_tree(paths.output_dir, 3000)
    prepare_run_files(paths, b'{"again": 1}', "token")
    assert victim.read_text() == "untouched"
    assert paths.input_file.read_bytes() == b'{"again": 1}'
    assert list(paths.output_dir.iterdir()) == []
