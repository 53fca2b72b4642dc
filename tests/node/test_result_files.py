"""Big outcomes as files: streamed sealing into the node's data dir, and the streamed PUT."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.live_server import serve_sqlite_server
from v6lib.client.transport import Transport
from v6lib.crypto import Binding, generate_private_key, open_stream
from v6lib.errors import ConflictError
from v6lib.node.journal import Journal, LocalState
from v6lib.node.outbox import Outbox
from v6lib.node.result_files import ResultFiles, upload_result_file
from v6lib.node.server_link import ServerLink

ROOT_PASSWORD = "Root-pass-1234!"


def _store(files: ResultFiles, run_id: int, path: Path, **seal: Any) -> int:
    with path.open("rb") as source:
        return files.store(run_id, source, **seal)


def test_store_copies_a_plain_output_atomically(tmp_path: Path) -> None:
    # Prepare
    output = tmp_path / "output.json"
    output.write_bytes(b'["' + b"x" * 5_000_000 + b'"]')
    files = ResultFiles(tmp_path / "results")
    # Execute
    size = _store(files, 7, output)
    # Assert
    assert files.exists(7) and size == output.stat().st_size
    assert files.path(7).read_bytes() == output.read_bytes()
    assert [p.name for p in files.directory.iterdir()] == ["run-7.result"]
    assert stat.S_IMODE(files.path(7).stat().st_mode) == 0o600  # results are the data's


def test_store_seals_by_streaming_for_the_recipient(tmp_path: Path) -> None:
    key = generate_private_key(2048)
    output = tmp_path / "output.json"
    output.write_bytes(os.urandom(3_000_000))
    files = ResultFiles(tmp_path / "results")
    binding = Binding("task-uid", 4, "result", "img", 1)
    _store(files, 9, output, recipient=key.public_key(), binding=binding)
    opened = io.BytesIO()
    with files.path(9).open("rb") as sealed:
        open_stream(sealed, opened, key, binding)
    assert opened.getvalue() == output.read_bytes()
    assert files.path(9).read_bytes()[:4] == b"\x89V6E"


def test_discard_except_keeps_only_waiting_runs(tmp_path: Path) -> None:
    output = tmp_path / "o.json"
    output.write_bytes(b"[]")
    files = ResultFiles(tmp_path / "results")
    for run_id in (1, 2, 3):
        _store(files, run_id, output)
    files.path(4).with_suffix(".partial").write_bytes(b"half")
    assert files.discard_except([2]) == 3
    assert sorted(p.name for p in files.directory.iterdir()) == ["run-2.result"]
    files.discard(2)
    assert not files.exists(2)


def test_a_failed_read_leaves_no_file(tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            raise OSError("the source went away")

    files = ResultFiles(tmp_path / "results")
    with pytest.raises(OSError, match="went away"):
        files.store(3, io.BufferedReader(Broken()))
    assert list(files.directory.iterdir()) == []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for port in serve_sqlite_server(tmp_path_factory, ROOT_PASSWORD):
        yield f"http://127.0.0.1:{port}/api"


def _active_run(base: str) -> tuple[int, Transport, str, int]:
    """A claimed, active run, a transport logged in as its node, its API key, its task."""
    def post(path: str, body: object, token: str | None = None) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = requests.post(f"{base}{path}", json=body, headers=headers, timeout=30)
        assert answer.status_code < 300, answer.text
        return dict(answer.json())

    root = str(post("/token/user", {"username": "root", "password": ROOT_PASSWORD})[
        "access_token"])
    name = os.urandom(4).hex()
    org = post("/organization", {"name": f"o-{name}"}, root)["id"]
    orgs = requests.get(f"{base}/organization", params={"name": "root"}, timeout=30,
                        headers={"Authorization": f"Bearer {root}"}).json()["data"]
    collab = post("/collaboration", {"name": f"c-{name}",
                                     "organization_ids": [org, orgs[0]["id"]]}, root)["id"]
    key = post("/node", {"collaboration_id": collab, "organization_id": org}, root)["api_key"]
    task = post("/task", {"collaboration_id": collab, "name": "t", "image": "i:1",
                          "organizations": [{"id": org, "input": "e30="}]}, root)
    transport = Transport(base)
    transport.token = str(post("/token/node", {"api_key": key})["access_token"])
    run = transport.get("/run", params={"task_id": task["id"]})["data"][0]
    for status in ("initializing", "active"):
        transport.patch(f"/run/{run['id']}", json={"status": status})
    return int(run["id"]), transport, str(key), int(task["id"])


def test_upload_streams_the_file_and_a_resend_is_a_no_op(server: str, tmp_path: Path) -> None:
    run_id, transport, _, _ = _active_run(server)
    output = tmp_path / "o.bin"
    output.write_bytes(os.urandom(6_000_000))
    files = ResultFiles(tmp_path / "results")
    _store(files, run_id, output)
    first = upload_result_file(transport, run_id, files.path(run_id))
    transport.patch(f"/run/{run_id}", json={"status": "completed"})
    again = upload_result_file(transport, run_id, files.path(run_id))
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    assert first.changed is True and first.sha256 == digest
    assert again.changed is False and again.size == 6_000_000
    other = tmp_path / "other.bin"
    other.write_bytes(b"[1]" * 10)
    with pytest.raises(ConflictError, match="can no longer change"):
        upload_result_file(transport, run_id, other)


def test_upload_refreshes_an_expired_token_once(server: str, tmp_path: Path) -> None:
    run_id, transport, _, _ = _active_run(server)
    good = transport.token
    transport.token = "expired"
    transport.refresh = lambda: good
    output = tmp_path / "o.bin"
    output.write_bytes(b"[2]")
    assert upload_result_file(transport, run_id, output).stored == "inline"
    assert transport.token == good


def _node_link(base: str, api_key: str) -> ServerLink:
    link = ServerLink(Transport(base), api_key)
    link.login()
    return link


def _finished_with_file(tmp_path: Path, run_id: int, task_id: int, size: int
                        ) -> tuple[Journal, bytes]:
    journal = Journal(tmp_path / "node" / "node-journal.sqlite")
    journal.receive(run_id, task_id=task_id)
    journal.update(run_id, active_reported=True)
    output = tmp_path / "output.json"
    content = b'["' + os.urandom(size // 2).hex().encode() + b'"]'
    output.write_bytes(content)
    assert journal.results is not None
    _store(journal.results, run_id, output)
    assert journal.finish(run_id, "completed", log="done")
    return journal, content


def test_outbox_puts_the_file_then_patches_the_status(server: str, tmp_path: Path) -> None:
    run_id, transport, api_key, task_id = _active_run(server)
    journal, content = _finished_with_file(tmp_path, run_id, task_id, 6_000_000)
    link = _node_link(server, api_key)
    assert Outbox(journal, link).flush()
    entry = journal.get(run_id)
    assert entry is not None and entry.state is LocalState.UPLOADED
    assert journal.results is not None and not journal.results.exists(run_id)
    run = transport.get(f"/run/{run_id}")
    assert run["status"] == "completed" and run["log"] == "done"
    assert run["result_size"] == len(content)
    journal.close()


@pytest.mark.parametrize("crash_after", ["put", "patch"])
def test_outbox_resends_safely_after_a_crash(server: str, tmp_path: Path,
                                             crash_after: str) -> None:
    run_id, transport, api_key, task_id = _active_run(server)
    journal, content = _finished_with_file(tmp_path, run_id, task_id, 20_000_000)
    link = _node_link(server, api_key)
    assert journal.results is not None
    # the node died after these calls, before it journaled the delivery
    upload_result_file(link.transport, run_id, journal.results.path(run_id))
    if crash_after == "patch":
        link.patch_run(run_id, {"status": "completed", "log": "done"})
    journal.close()
    reopened = Journal(tmp_path / "node" / "node-journal.sqlite")
    assert Outbox(reopened, link).flush()
    entry = reopened.get(run_id)
    assert entry is not None and entry.state is LocalState.UPLOADED
    run = transport.get(f"/run/{run_id}")
    assert run["status"] == "completed" and run["result_size"] == len(content)
    with requests.get(f"{server}/run/{run_id}/result", timeout=30,
                      headers={"Authorization": f"Bearer {transport.token}"}) as raw:
        assert raw.content == content
    reopened.close()


def test_prune_keeps_files_of_runs_still_waiting(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "node" / "node-journal.sqlite")
    output = tmp_path / "o.json"
    output.write_bytes(b"[]")
    assert journal.results is not None
    for run_id in (1, 2, 3):
        journal.receive(run_id, task_id=1)
        _store(journal.results, run_id, output)
    journal.finish(2, "completed")
    journal.finish(3, "completed")
    journal.mark_uploaded(3)
    _store(journal.results, 9, output)  # left by a run the journal does not know
    journal.prune()
    assert [journal.results.exists(r) for r in (1, 2, 3, 9)] == [True, True, False, False]
    journal.close()
