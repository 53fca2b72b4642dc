"""Encrypted collaborations: input opened with the node key, result sealed for the initiator."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from v6lib.crypto import (
    Binding,
    fingerprint,
    generate_private_key,
    open_sealed,
    public_key_b64,
    save_private_key,
    seal,
)
from v6lib.errors import BindingMismatchError, EncryptionError

from .conftest import NodeHarness, wait_until
from .fakes import FakeRuntime, FakeServer

KEY1 = generate_private_key(2048)
KEY2 = generate_private_key(2048)


def encrypted_server() -> FakeServer:
    server = FakeServer(encrypted=True)
    server.add_node(1, api_key="key1")
    server.add_node(2, api_key="key2")
    server.organizations[1]["public_key"] = public_key_b64(KEY1)
    return server


def key_file(tmp_path: Path, key: object, name: str = "org2.pem") -> Path:
    path = tmp_path / name
    save_private_key(key, path)  # type: ignore[arg-type]
    return path


def test_encrypted_run_round_trip(harness: NodeHarness, tmp_path: Path) -> None:
    server = encrypted_server()
    seen: dict[str, bytes] = {}

    def algorithm(spec: object) -> tuple[int, bytes, str]:
        seen["input"] = spec.input_file.read_bytes()  # type: ignore[attr-defined]
        return 0, b'{"secret": 42}', ""

    node = harness.start(server, FakeRuntime(auto=algorithm), encryption_enabled=True,
                         private_key_path=key_file(tmp_path, KEY2))
    # the node uploaded its public key at start-up
    assert server.organizations[2]["public_key"] == public_key_b64(KEY2)
    uid = "4b1c9d1e-0000-4000-8000-000000000001"
    sealed_input = seal(b'{"method": "partial"}', [KEY2.public_key()],
                        Binding(uid, 2, "input", "img", 1))
    task = server.create_task("img", {2: sealed_input}, uid=uid, init_org_id=1)
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "completed", what="completed")
    assert seen["input"] == b'{"method": "partial"}'
    blob = base64.b64decode(run["result"])
    assert open_sealed(blob, KEY1, Binding(uid, 2, "result", "img", 1)) == b'{"secret": 42}'
    with pytest.raises(BindingMismatchError):
        open_sealed(blob, KEY1, Binding(uid, 1, "result", "img", 1))
    assert node.keys is not None and node.keys.encrypted


@pytest.mark.parametrize("sealed_for", [
    Binding("4b1c9d1e-0000-4000-8000-000000000002", 3, "input", "img", 1),
    Binding("4b1c9d1e-0000-4000-8000-000000000002", 2, "input", "other-image", 1),
    Binding("4b1c9d1e-0000-4000-8000-000000000002", 2, "input", "img", 3),
], ids=["other organization", "other image", "other initiator"])
def test_input_bound_to_another_task_fails_to_start(harness: NodeHarness, tmp_path: Path,
                                                    sealed_for: Binding) -> None:
    """A captured input replayed into a task with another image or initiator never opens."""
    server, runtime = encrypted_server(), FakeRuntime()
    harness.start(server, runtime, encryption_enabled=True,
                  private_key_path=key_file(tmp_path, KEY2))
    replayed = seal(b"{}", [KEY2.public_key()], sealed_for)
    task = server.create_task("img", {2: replayed}, uid=sealed_for.task_uid, init_org_id=1)
    run = server.run_of(task["id"], 2)
    wait_until(lambda: run["status"] == "start failed", what="start failed")
    assert str(run["reason"]).startswith("cannot decrypt the run's input: this envelope was "
                                         "sealed for another task, image, initiator")
    assert runtime.started == []


def test_swapped_key_of_the_initiator_is_never_sealed_for(harness: NodeHarness,
                                                         tmp_path: Path) -> None:
    """The initiator's key is pinned at first use; a key swapped in later is refused."""
    server = encrypted_server()
    node = harness.start(server, FakeRuntime(auto=lambda spec: (0, b"{}", "")),
                         encryption_enabled=True, private_key_path=key_file(tmp_path, KEY2))

    def run_task(n: int) -> dict:
        uid = f"4b1c9d1e-0000-4000-8000-00000000010{n}"
        sealed = seal(b'{"method": "m"}', [KEY2.public_key()], Binding(uid, 2, "input", "img", 1))
        return server.run_of(server.create_task("img", {2: sealed}, uid=uid)["id"], 2)

    first = run_task(1)
    wait_until(lambda: first["status"] == "completed", what="completed")
    attacker = generate_private_key(2048)
    server.organizations[1]["public_key"] = public_key_b64(attacker)
    assert node.keys is not None
    node.keys.forget(1)  # no cache: the node asks the server again
    second = run_task(2)
    wait_until(lambda: second["status"] == "start failed", what="refused")
    assert "public key" in str(second["reason"]) and "organization 1" in str(second["reason"])
    assert second["result"] is None
    assert node.keys.trust.pinned(1) == fingerprint(KEY1)


def test_different_key_on_server_refuses_start(harness: NodeHarness, tmp_path: Path) -> None:
    server = encrypted_server()
    server.organizations[2]["public_key"] = public_key_b64(KEY1)
    with pytest.raises(EncryptionError, match="holds a different public key for organization 2"):
        harness.start(server, FakeRuntime(), encryption_enabled=True,
                      private_key_path=key_file(tmp_path, KEY2))


def test_plain_node_in_encrypted_collaboration_refuses_runs(harness: NodeHarness) -> None:
    server, runtime = encrypted_server(), FakeRuntime()
    harness.start(server, runtime)
    run = server.run_of(server.create_task("img", {2: b"{}"})["id"], 2)
    wait_until(lambda: run["status"] == "not allowed", what="refused")
    assert run["reason"] == ("collaboration 1 is encrypted but node 'node2' has encryption "
                             "disabled")


def test_refused_key_upload_names_what_to_do(harness: NodeHarness, tmp_path: Path) -> None:
    server = encrypted_server()
    server.nodes_may_edit_organization = False
    with pytest.raises(EncryptionError, match="an organization admin must upload it"):
        harness.start(server, FakeRuntime(), encryption_enabled=True,
                      private_key_path=key_file(tmp_path, KEY2))
