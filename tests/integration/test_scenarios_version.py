"""Scenario 12: version skew between a node and the server.

The server reports its version on ``GET /version``; the node compares it at start-up.
A server one major version ahead makes ``v6 node start`` stop with a message that
names both versions and the component to upgrade; a server one minor version ahead
is accepted with a warning and runs work as usual.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import v6lib
import v6lib.server.app
from v6lib.errors import VersionMismatchError
from v6lib.node.daemon import Node

from .conftest import (
    SCENARIO_IMAGE,
    LiveServer,
    ThreadNode,
    cli_node_config,
    make_federation,
    node_options,
)

pytestmark = pytest.mark.integration


def _bumped(part: int) -> str:
    numbers = [int(p) for p in v6lib.__version__.split(".")[:3]]
    numbers[part] += 1
    numbers[part + 1:] = [0] * (2 - part)
    return ".".join(str(n) for n in numbers)


def _server_at(version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    monkeypatch.setattr(v6lib.server.app, "__version__", version)
    server = LiveServer(tmp_path / "server.sqlite").start()
    monkeypatch.undo()
    return server


def test_a_node_behind_a_major_version_refuses_to_start_and_says_what_to_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario_package: Path) -> None:
    newer = _bumped(0)
    server = _server_at(newer, tmp_path, monkeypatch)
    try:
        fed = make_federation(server, 1, prefix="skew")
        node = Node(node_options(fed, 0, tmp_path / "node", scenario_package=scenario_package))
        with pytest.raises(VersionMismatchError) as caught:
            node.start()
        node.close()
        message = str(caught.value)
        assert f"server {newer}" in message and f"node {v6lib.__version__}" in message
        assert "upgrade the node" in message

        config = cli_node_config(fed, 0, tmp_path / "cli-node", scenario_package=scenario_package)
        path = tmp_path / "node.yaml"
        path.write_text(yaml.safe_dump(config))
        v6 = Path(sys.executable).with_name("v6")
        done = subprocess.run([str(v6), "node", "start", "--attach", "--config", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        assert f"server {newer}" in done.stderr and "upgrade the node" in done.stderr, \
            done.stderr[-2000:]
    finally:
        server.stop()


def test_a_node_one_minor_version_behind_works_and_warns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario_package: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    newer = _bumped(1)
    server = _server_at(newer, tmp_path, monkeypatch)
    node = None
    try:
        fed = make_federation(server, 1, prefix="minor")
        with caplog.at_level(logging.WARNING, logger="v6lib.node.daemon"):
            node = ThreadNode(node_options(fed, 0, tmp_path / "node",
                                           scenario_package=scenario_package))
        assert any(f"server {newer}" in r.getMessage() for r in caplog.records), caplog.text
        task = fed.root.task.create(collaboration=fed.collaboration,
                                    organizations=fed.org_ids, name="minor skew",
                                    image=SCENARIO_IMAGE,
                                    input_={"method": "sleep_echo",
                                            "kwargs": {"seconds": 0, "value": "fine"}})
        assert fed.root.wait_for_results(task["id"], timeout=30) == \
            [{"echo": "fine", "slept": 0}]
    finally:
        if node is not None:
            node.stop()
        server.stop()
