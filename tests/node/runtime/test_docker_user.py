"""Handing a run's files to the container user: only what the node made, never via links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from v6lib.errors import RuntimeUnavailableError
from v6lib.node.run_files import prepare_run_files, run_paths
from v6lib.node.runtime.base import JobSpec
from v6lib.node.runtime.docker_user import (
    NOBODY,
    container_owner,
    default_user,
    hand_over_run_files,
    output_owner,
)


def _spec(tmp_path: Path) -> JobSpec:
    paths = run_paths(tmp_path, 7, 1)
    prepare_run_files(paths, b"{}", "token")
    return JobSpec(node_name="n", run_id=1, task_id=7, job_id=7, image="i",
                   input_file=paths.input_file, output_file=paths.output_file,
                   token_file=paths.token_file, temporary_folder=paths.temporary_folder,
                   databases=(), proxy_port=0)


def test_a_root_node_runs_containers_as_nobody() -> None:
    assert os.geteuid() == 0  # the node's Docker tests run as root, as CI does
    assert default_user() == NOBODY
    assert container_owner(NOBODY) == (65534, 65534) and output_owner(NOBODY) == 65534
    assert container_owner("appuser") is None and output_owner("appuser") == 0


def test_the_run_files_change_hands(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    hand_over_run_files(spec, NOBODY)
    for path in (spec.input_file, spec.token_file, spec.output_file.parent,
                 spec.temporary_folder):
        assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)


def test_a_link_among_them_is_refused_and_nothing_is_chowned(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("root's")
    spec.temporary_folder.rmdir()
    spec.temporary_folder.symlink_to(victim)
    with pytest.raises(RuntimeUnavailableError, match="is a symbolic link"):
        hand_over_run_files(spec, NOBODY)
    assert victim.stat().st_uid == 0 and spec.input_file.stat().st_uid == 0
