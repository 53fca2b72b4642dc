"""Shared node test helpers: build a Node on the fake server and runtime, wait for things."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.small_disk import mounted_tmpfs
from v6lib.node.daemon import Node
from v6lib.node.options import NodeOptions
from v6lib.node.retry import Backoff
from v6lib.node.runtime.base import JobDatabase

from .fakes import FakeRuntime, FakeServer, FakeTransport


def wait_until(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition"
               ) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class NodeHarness:
    """Starts nodes in threads and stops them at the end of a test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[tuple[Node, threading.Thread]] = []

    def options(self, org: int, api_key: str, **overrides: Any) -> NodeOptions:
        data = self.tmp_path / "data.csv"
        data.write_text("x\n1\n")
        base: dict[str, Any] = {
            "name": f"node{org}", "api_key": api_key, "server_api_url": "http://fake/api",
            "task_dir": self.tmp_path / f"node{org}",
            "databases": {"default": JobDatabase("default", str(data), "csv")},
            "event_timeout": 0.2,
        }
        base.update(overrides)
        return NodeOptions(**base)

    def start(self, server: FakeServer, runtime: FakeRuntime, org: int = 2,
              api_key: str = "key2", **overrides: Any) -> Node:
        node = Node(self.options(org, api_key, **overrides), transport=FakeTransport(server),
                    runtime=runtime, backoff=Backoff(base=0.01, max_delay=0.05))
        node.start()
        thread = threading.Thread(target=node.run_forever, daemon=True)
        thread.start()
        self.running.append((node, thread))
        return node

    def crash(self, node: Node) -> None:
        """Stop a node's threads without any clean-up upload (as if it died)."""
        node.stop_event.set()
        node.outbox.notify()
        for candidate, thread in self.running:
            if candidate is node:
                thread.join(5)
        node._pool.shutdown(wait=True, cancel_futures=True)
        for thread in node._threads:
            thread.join(5)
        if node.executor is not None:
            for thread in list(node.executor.watchers.values()):
                thread.join(5)
        if node.proxy is not None:
            node.proxy.stop()
        node.journal.close()
        self.running = [(n, t) for n, t in self.running if n is not node]

    def close(self) -> None:
        for node, thread in self.running:
            node.stop()
            thread.join(5)
            node.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[NodeHarness]:
    h = NodeHarness(tmp_path)
    yield h
    h.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB file system (tmpfs) to fill up; the tests run as root (as in CI)."""
    mount_point = tmp_path / "small-disk"
    with mounted_tmpfs(mount_point, 8) as refused:
        if refused is not None:
            pytest.fail(f"cannot mount a tmpfs at {mount_point} ({refused}): the disk-full "
                        "tests need root, as scripts/test.sh has in CI")
        yield mount_point
