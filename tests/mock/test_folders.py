"""The mock nodes' run folders: the node's layout, its lifetimes, and where they live."""

from __future__ import annotations

from pathlib import Path

import pytest

from v6lib.mock import folders
from v6lib.mock.folders import RunFolders


def test_runs_get_the_node_layout_per_organization() -> None:
    runs = RunFolders()
    paths = runs.open(organization_id=2, job_id=4, run_id=9)

    assert paths.run_dir == runs.root / "organization_2" / "jobs" / "4" / "9"
    assert paths.temporary_folder == runs.root / "organization_2" / "jobs" / "4" / "tmp"
    assert paths.output_dir.is_dir() and paths.temporary_folder.is_dir()
    assert paths.output_file == paths.run_dir / "output" / "output"
    assert runs.temporary_folder(4, 2) == paths.temporary_folder
    runs.close(paths)
    assert not paths.run_dir.exists() and not paths.temporary_folder.exists()
    runs.cleanup()


def test_the_job_folder_stays_while_any_of_its_runs_runs() -> None:
    runs = RunFolders()
    first = runs.open(1, 4, 1)
    second = runs.open(1, 4, 2)
    elsewhere = runs.open(2, 4, 3)
    (first.temporary_folder / "state").write_text("x")

    runs.close(first)
    assert (second.temporary_folder / "state").exists() and not first.run_dir.exists()
    runs.close(second)
    assert not second.temporary_folder.exists()
    assert elsewhere.temporary_folder.is_dir()  # another organization's: its own lifetime
    root = runs.root
    runs.cleanup()
    assert not root.exists()


def test_run_folders_prefer_a_ram_folder_with_room(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(folders, "RAM_FOLDER", str(tmp_path))
    monkeypatch.setattr(folders, "RAM_FOLDER_MIN_FREE", 0)
    assert folders.parent_folder() == str(tmp_path)
    assert RunFolders().root.parent == tmp_path

    monkeypatch.setattr(folders, "RAM_FOLDER_MIN_FREE", 1 << 62)
    assert folders.parent_folder() is None  # not enough room
    monkeypatch.setattr(folders, "RAM_FOLDER_MIN_FREE", 0)
    monkeypatch.setattr(folders, "RAM_FOLDER", str(tmp_path / "absent"))
    assert folders.parent_folder() is None
    monkeypatch.setattr(folders, "RAM_FOLDER", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert folders.parent_folder() is None  # TMPDIR says where temporary files go


def test_what_a_run_leaves_in_its_folders_goes_with_them() -> None:
    runs = RunFolders()
    paths = runs.open(1, 6, 1)
    (paths.run_dir / "home" / ".cache").mkdir(parents=True)
    (paths.run_dir / "home" / ".cache" / "x").write_text("x")
    paths.output_file.write_text("[]")
    (paths.run_dir / "extra.csv").write_text("a\n")
    (paths.temporary_folder / "model.bin").write_bytes(b"\0")

    runs.close(paths)

    assert not paths.temporary_folder.parent.exists()
    runs.cleanup()
