"""Scenario 9 (a sample): bad input everywhere gets a 4xx JSON error and stores nothing.

Raw HTTP against a real server: malformed JSON, wrong types, unknown fields, a body
above ``max_request_bytes``, ids of another organization, expired and forged tokens,
and a task input that is not ciphertext in an encrypted collaboration. Each answer must
be a 4xx with ``{"code", "message"}`` that says what is wrong, and the listing
afterwards must show that nothing was stored.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from .conftest import (
    JWT_SECRET,
    LiveServer,
    ThreadNode,
    make_federation,
    marker_lines,
    node_options,
)

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024
RESEARCHER_PASSWORD = "Researcher-pw-2"
PLAIN_INPUT = base64.b64encode(json.dumps({"method": "echo", "args": [],
                                           "kwargs": {}}).encode()).decode()


@dataclass
class World:
    server: LiveServer
    root_token: str
    researcher_token: str
    own_collaboration: int
    other_collaboration: int
    encrypted_collaboration: int
    own_org: int
    other_org: int
    sealed_token: str = ""  # an administrator in a member of the encrypted collaboration


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = LiveServer(tmp_path_factory.mktemp("input") / "server.sqlite",
                        max_request_bytes=LIMIT).start()
    try:
        own = make_federation(server, 2, prefix="own")
        other = make_federation(server, 2, prefix="other")
        sealed = make_federation(server, 2, encrypted=True, prefix="sealed")
        root = own.root
        researcher_role = [r["id"] for r in root.role.list(all_pages=True)
                           if r["name"] == "Researcher"]
        root.user.create(username="input-researcher", password=RESEARCHER_PASSWORD,
                         organization=own.org_ids[0], roles=researcher_role)
        token = requests.post(server.url + "/token/user", json={
            "username": "input-researcher", "password": RESEARCHER_PASSWORD}, timeout=10)
        yield World(server, root.token or "", token.json()["access_token"],
                    own.collaboration, other.collaboration, sealed.collaboration,
                    own.org_ids[0], other.org_ids[0], sealed.root.token or "")
    finally:
        server.stop()


def _call(world: World, method: str, path: str, token: str | None = None, *,
          body: Any = None, data: bytes | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, world.server.url + path, json=body, data=data,
                            headers=headers, timeout=30)


def _assert_error(response: requests.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    for word in words:
        assert word in json.dumps(body), (word, body)


def _names(world: World, resource: str) -> list[str]:
    answer = _call(world, "GET", f"/{resource}?per_page=1000", world.root_token)
    assert answer.status_code == 200, answer.text
    return [item["name"] for item in answer.json()["data"]]


def _task_count(world: World) -> int:
    answer = _call(world, "GET", "/task?per_page=1", world.root_token)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total"])


def test_malformed_json_is_refused(world: World) -> None:
    answer = _call(world, "POST", "/organization", world.root_token,
                   data=b'{"name": "half an organization",')
    _assert_error(answer, 400, "validation_error")
    assert "half an organization" not in _names(world, "organization")


def test_wrong_types_and_unknown_fields_are_refused(world: World) -> None:
    wrong = _call(world, "POST", "/collaboration", world.root_token,
                  body={"name": "typed wrong", "organization_ids": "all of them"})
    _assert_error(wrong, 400, "validation_error", "organization_ids")
    unknown = _call(world, "POST", "/organization", world.root_token,
                    body={"name": "with a stowaway", "stowaway": True})
    _assert_error(unknown, 400, "validation_error", "stowaway")
    assert "typed wrong" not in _names(world, "collaboration")
    assert "with a stowaway" not in _names(world, "organization")


def test_a_body_above_the_limit_is_refused(world: World) -> None:
    answer = _call(world, "POST", "/organization", world.root_token,
                   body={"name": "huge", "address1": "x" * (2 * LIMIT)})
    _assert_error(answer, 413, "payload_too_large", str(LIMIT))
    assert "huge" not in _names(world, "organization")


def test_ids_of_another_organization_are_refused(world: World) -> None:
    before = _task_count(world)
    foreign = _call(world, "POST", "/task", world.researcher_token, body={
        "collaboration_id": world.other_collaboration, "name": "not mine",
        "image": "v6-average:latest", "databases": [{"label": "default"}],
        "organizations": [{"id": world.other_org, "input": PLAIN_INPUT}]})
    assert foreign.status_code in (403, 404), foreign.text
    assert foreign.json()["code"] in ("permission_denied", "not_found")
    stranger = _call(world, "POST", "/task", world.researcher_token, body={
        "collaboration_id": world.own_collaboration, "name": "outsider",
        "image": "v6-average:latest", "databases": [{"label": "default"}],
        "organizations": [{"id": world.other_org, "input": PLAIN_INPUT}]})
    assert 400 <= stranger.status_code < 500, stranger.text
    assert str(world.other_org) in stranger.json()["message"], stranger.text
    hidden = _call(world, "GET", f"/organization/{world.other_org}", world.researcher_token)
    _assert_error(hidden, 404, "not_found")
    assert _task_count(world) == before


def test_expired_and_forged_tokens_are_refused(world: World) -> None:
    claims = jwt.decode(world.researcher_token, options={"verify_signature": False})
    now = int(time.time())
    expired = jwt.encode({**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
                         JWT_SECRET, algorithm="HS256")
    forged = jwt.encode({**claims, "exp": now + 3600}, "not-the-server-secret-" * 3,
                        algorithm="HS256")
    unsigned = jwt.encode({**claims, "exp": now + 3600}, None, algorithm="none")
    for token in (expired, forged, unsigned, "not.a.token"):
        answer = _call(world, "POST", "/organization", token, body={"name": f"by {token[-6:]}"})
        _assert_error(answer, 401, "authentication_error")
    assert not [n for n in _names(world, "organization") if n.startswith("by ")]


def test_plaintext_input_in_an_encrypted_collaboration_is_refused(world: World) -> None:
    before = _task_count(world)
    answer = _call(world, "POST", "/task", world.sealed_token, body={
        "collaboration_id": world.encrypted_collaboration, "name": "not sealed",
        "image": "v6-average:latest", "databases": [{"label": "default"}],
        "organizations": [{"id": org_id, "input": PLAIN_INPUT}
                          for org_id in _collaboration_orgs(world)]})
    _assert_error(answer, 400, "validation_error", "encrypted")
    assert _task_count(world) == before


def test_a_tampered_input_is_refused_by_the_node_without_running(
        world: World, scenario_package: Path, tmp_path: Path) -> None:
    """The server cannot open ciphertext; the node that cannot must refuse, saying why."""
    from v6lib.crypto import (
        Binding,
        generate_private_key,
        public_key_b64,
        save_private_key,
        seal,
    )
    from v6lib.schemas.run_status import RunStatus

    fed = make_federation(world.server, 1, encrypted=True, prefix="tamper")
    key = generate_private_key(2048)
    save_private_key(key, tmp_path / "key.pem")
    fed.root.organization.update(fed.org_ids[0], public_key=public_key_b64(key))
    node = ThreadNode(node_options(fed, 0, tmp_path / "node", scenario_package=scenario_package,
                                   encryption_enabled=True,
                                   private_key_path=tmp_path / "key.pem"))
    try:
        org = fed.org_ids[0]
        uid = uuid.uuid4().hex
        sealed = bytearray(seal(json.dumps({"method": "sleep_echo", "kwargs": {
            "seconds": 0, "value": 1, "marker": str(tmp_path / "ran")}}).encode(),
            [key.public_key()], Binding(uid, org, "input", "v6-scenario:test", org)))
        sealed[-20] ^= 0x01  # one flipped bit in the ciphertext
        answer = _call(world, "POST", "/task", _member_token(fed), body={
            "collaboration_id": fed.collaboration, "name": "tampered", "uid": uid,
            "image": "v6-scenario:test", "databases": [{"label": "default"}],
            "organizations": [{"id": org,
                               "input": base64.b64encode(bytes(sealed)).decode()}]})
        assert answer.status_code == 201, answer.text
        [outcome] = fed.root.wait_for_results(answer.json()["id"], timeout=30,
                                              raise_on_failure=False)
        assert outcome.status is RunStatus.START_FAILED
        assert "cannot decrypt the run's input" in (outcome.reason or ""), outcome
        assert outcome.result is None
        assert marker_lines(tmp_path / "ran", org) == []
    finally:
        node.stop()


def _member_token(fed: Any) -> str:
    """A token of a researcher of the federation's (only) organization."""
    role = [r["id"] for r in fed.root.role.list(all_pages=True) if r["name"] == "Researcher"]
    username = f"member-{fed.org_ids[0]}"
    fed.root.user.create(username=username, password=RESEARCHER_PASSWORD,
                         organization=fed.org_ids[0], roles=role)
    answer = requests.post(fed.server.url + "/token/user", timeout=10,
                           json={"username": username, "password": RESEARCHER_PASSWORD})
    return str(answer.json()["access_token"])


def _collaboration_orgs(world: World) -> list[int]:
    answer = _call(world, "GET", f"/collaboration/{world.encrypted_collaboration}",
                   world.root_token)
    return list(answer.json()["organization_ids"])
