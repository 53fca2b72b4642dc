"""Big results reach the researcher streamed from ``/run/{id}/result``, plain and sealed."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.live_server import serve_sqlite_server
from v6lib import serialization
from v6lib.client import Client
from v6lib.client.result_stream import VerifiedBody
from v6lib.crypto import TaskBinding, generate_private_key, public_key_b64, save_private_key, seal
from v6lib.errors import NotFoundError, TamperedError, TruncatedError
from v6lib.schemas.run import INLINE_RESULT_BYTES
from v6lib.server.services.result_store import CHUNK_BYTES

ROOT_PASSWORD = "Root-pass-1234!"
PASSWORD = "Researcher-pass-1!"
#: The test server runs in this process: tracemalloc also sees the few chunks it holds
#: while answering the download.
SERVER_SLACK = 5 * CHUNK_BYTES


@dataclass
class Setup:
    port: int
    researcher: Client
    org: int
    plain: int
    sealed: int
    keys: dict[int, str]
    key_file: Path
    private_key: Any

    def run_node(self, collab: int, task: dict[str, Any], body: bytes) -> int:
        """Play the node: claim the run, PUT ``body`` raw, then PATCH completed."""
        base = f"http://127.0.0.1:{self.port}/api"
        token = requests.post(f"{base}/token/node", json={"api_key": self.keys[collab]},
                              timeout=10).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        run = requests.get(f"{base}/run", params={"task_id": task["id"]}, headers=auth,
                           timeout=10).json()["data"][0]
        for status in ("initializing", "active"):
            requests.patch(f"{base}/run/{run['id']}", json={"status": status}, headers=auth,
                           timeout=10).raise_for_status()
        put = requests.put(f"{base}/run/{run['id']}/result", data=io.BytesIO(body),
                           headers={**auth, "Content-Type": "application/octet-stream"},
                           timeout=60)
        assert put.status_code == 200, put.text
        requests.patch(f"{base}/run/{run['id']}", json={"status": "completed"}, headers=auth,
                       timeout=10).raise_for_status()
        return int(run["id"])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    for port in serve_sqlite_server(tmp_path_factory, ROOT_PASSWORD):
        root = Client("http://127.0.0.1", port, "/api")
        root.authenticate("root", ROOT_PASSWORD)
        key = generate_private_key(2048)
        key_file = tmp_path_factory.mktemp("keys") / "org.pem"
        save_private_key(key, key_file)
        org = root.organization.create(name="Site A", public_key=public_key_b64(key))["id"]
        plain = root.collaboration.create("plain", [org])["id"]
        sealed = root.collaboration.create("sealed", [org], encrypted=True)["id"]
        keys = {c: root.node.create(collaboration=c, organization=org, name=f"node-{c}")
                for c in (plain, sealed)}
        role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Researcher"]
        root.user.create(username="researcher", password=PASSWORD, organization=org,
                         roles=role, email="r@example.org")
        researcher = Client("http://127.0.0.1", port, "/api")
        researcher.authenticate("researcher", PASSWORD)
        yield Setup(port, researcher, org, plain, sealed, keys, key_file, key)


def big_value() -> dict[str, Any]:
    """A result whose JSON is well above the inline limit."""
    row = "x" * 1000
    return {"rows": [f"{i}:{row}" for i in range(INLINE_RESULT_BYTES // 1000 + 2000)]}


def test_a_big_plain_result_is_fetched_raw_and_decoded(setup: Setup) -> None:
    # Prepare
    value = big_value()
    blob = serialization.dumps(value)
    task = setup.researcher.task.create(setup.plain, [setup.org], name="big", image="i:1",
                                        input_={"method": "m"})
    run_id = setup.run_node(setup.plain, task, blob)
    # Execute
    tracemalloc.start()
    results = setup.researcher.wait_for_results(task["id"], timeout=30)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Assert
    assert results == [value]
    assert setup.researcher.result.get(run_id)["result"] == value
    # the body and its text, then the text and the value: never more than two at once
    assert peak < 2.3 * len(blob) + SERVER_SLACK, (peak, len(blob))


def test_a_big_sealed_result_is_decrypted_from_the_stream(setup: Setup,
                                                          tmp_path: Path) -> None:
    value = big_value()
    setup.researcher.setup_encryption(setup.key_file)
    task = setup.researcher.task.create(setup.sealed, [setup.org], name="big", image="i:1",
                                        input_={"method": "m"})
    sealed = seal(serialization.dumps(value), [setup.private_key.public_key()],
                  TaskBinding.of(task).result(setup.org))
    run_id = setup.run_node(setup.sealed, task, sealed)
    tracemalloc.start()
    outcomes = setup.researcher.wait_for_results(task["id"], timeout=30,
                                                 raise_on_failure=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [o.result for o in outcomes] == [value]
    assert peak < 2.3 * len(sealed) + SERVER_SLACK, (peak, len(sealed))
    saved = tmp_path / "result.bin"
    assert setup.researcher.result.download(run_id, saved) == len(sealed)
    assert saved.read_bytes() == sealed


def test_a_run_without_result_is_not_found(setup: Setup, tmp_path: Path) -> None:
    task = setup.researcher.task.create(setup.plain, [setup.org], name="none", image="i:1",
                                        input_={"method": "m"})
    run_id = setup.researcher.run.from_task(task["id"])[0]["id"]
    with pytest.raises(NotFoundError, match="has no result"):
        setup.researcher.result.download(run_id, tmp_path / "x.bin")


class _Response:
    def __init__(self, data: bytes) -> None:
        self.raw = io.BytesIO(data)


def test_a_short_body_is_reported_as_truncated() -> None:
    body = VerifiedBody(_Response(b"abc"), 10, None)  # type: ignore[arg-type]
    with pytest.raises(TruncatedError, match="3 of 10 bytes"):
        body.read_all()


def test_a_body_that_does_not_match_its_digest_is_refused() -> None:
    import hashlib

    body = VerifiedBody(_Response(b"abd"), 3,  # type: ignore[arg-type]
                        hashlib.sha256(b"abc").hexdigest())
    with pytest.raises(TamperedError, match="SHA-256"):
        body.read_all()
    good = VerifiedBody(_Response(b"abc"), 3,  # type: ignore[arg-type]
                        hashlib.sha256(b"abc").hexdigest())
    assert good.read_all() == b"abc"


def test_an_algorithm_reads_a_big_subtask_result_raw(setup: Setup) -> None:
    """What a central function's client does when a partial result is not inlined."""
    from v6lib.client.algorithm_api import HttpAlgorithmApi
    from v6lib.client.transport import Transport

    value = big_value()
    task = setup.researcher.task.create(setup.plain, [setup.org], name="big-sub", image="i:1",
                                        input_={"method": "m"})
    setup.run_node(setup.plain, task, serialization.dumps(value))
    transport = Transport(f"http://127.0.0.1:{setup.port}/api")
    transport.token = setup.researcher.transport.token  # the proxy forwards like this
    (run,) = HttpAlgorithmApi(transport, metadata=None).get_runs(task["id"])  # type: ignore[arg-type]
    assert run["result"] == value and run["result_size"] > INLINE_RESULT_BYTES
