"""ResultClient: decoding plain and sealed results, and refusing what must not be trusted."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from v6lib import errors, serialization
from v6lib.client import Client
from v6lib.crypto import Binding, generate_private_key, save_private_key, seal

RESULT_3 = Binding("uid-5", 3, "result", "img:1", 3)


def _item(run_id: int, org: int, value: bytes | None) -> dict[str, Any]:
    return {"id": run_id, "run_id": run_id, "task_id": 5, "organization_id": org,
            "status": "completed", "log": "",
            "result": None if value is None else base64.b64encode(value).decode()}


def _serve(server: Any, items: list[dict[str, Any]], encrypted: bool) -> None:
    server.on("GET", "/task/5", {"id": 5, "uid": "uid-5", "collaboration_id": 1,
                                 "image": "img:1", "init_org_id": 3})
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": encrypted})
    server.on("GET", "/result", {"data": items, "links": {}, "total": len(items), "page": 1,
                                 "per_page": 100})
    for item in items:
        server.on("GET", f"/result/{item['id']}", item)


def test_from_task_plain_in_run_order(client: Client, server: Any) -> None:
    _serve(server, [_item(2, 3, serialization.dumps({"mean": 2.0})),
                    _item(1, 2, serialization.dumps({"mean": 1.0})),
                    _item(3, 4, None)], encrypted=False)
    assert client.result.from_task(5) == [{"mean": 1.0}, {"mean": 2.0}, None]


def test_encrypted_result_is_opened_with_the_client_key(client: Client, server: Any,
                                                        tmp_path: Any) -> None:
    key = generate_private_key(2048)
    save_private_key(key, tmp_path / "k.pem")
    client.setup_encryption(tmp_path / "k.pem")
    sealed = seal(serialization.dumps([1, 2, 3]), [key.public_key()],
                  RESULT_3)
    _serve(server, [_item(1, 3, sealed)], encrypted=True)

    assert client.result.from_task(5) == [[1, 2, 3]]
    assert client.result.get(1)["result"] == [1, 2, 3]


def test_result_moved_to_another_organization_is_rejected(client: Client, server: Any,
                                                          tmp_path: Any) -> None:
    key = generate_private_key(2048)
    save_private_key(key, tmp_path / "k.pem")
    client.setup_encryption(tmp_path / "k.pem")
    sealed = seal(serialization.dumps(1), [key.public_key()], RESULT_3)
    _serve(server, [_item(1, 4, sealed)], encrypted=True)
    with pytest.raises(errors.BindingMismatchError):
        client.result.from_task(5)


def test_plaintext_in_encrypted_collaboration_is_refused(client: Client, server: Any,
                                                         tmp_path: Any) -> None:
    key = generate_private_key(2048)
    save_private_key(key, tmp_path / "k.pem")
    client.setup_encryption(tmp_path / "k.pem")
    _serve(server, [_item(1, 3, serialization.dumps(1))], encrypted=True)
    with pytest.raises(errors.DecryptionError, match="not encrypted"):
        client.result.from_task(5)


def test_list_keeps_going_past_undecodable_entries(client: Client, server: Any) -> None:
    key = generate_private_key(2048)
    sealed = seal(serialization.dumps(1), [key.public_key()], RESULT_3)
    _serve(server, [_item(1, 3, sealed)], encrypted=True)
    page = client.result.list(task=5)
    assert page["data"][0]["result"] is None
    assert "setup_encryption" in page["data"][0]["decode_error"]
    assert server.requests_to("/result")[0].params["task_id"] == "5"


def test_list_all_pages_decodes(client: Client, server: Any) -> None:
    _serve(server, [_item(1, 2, serialization.dumps("x"))], encrypted=False)
    assert client.result.list(task=5, all_pages=True, fields=["result"]) == [{"result": "x"}]
