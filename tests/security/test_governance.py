"""A hostile co-member: another organization's administrator uses every right they have.

Findings 2, 3, 7, 12 and 14 (roles) of the probe: swap a member's public key through a
node identity, switch encryption off, pull an outsider into the collaboration to read
its users, take over a Root account, and pass a custom role off as "Root". Run against
a real server over HTTP, with the real researcher's client.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import ROOT_PASSWORD, LiveServer
from v6lib import errors
from v6lib.client import Client
from v6lib.crypto import fingerprint, generate_private_key, public_key_b64
from v6lib.crypto.envelope import MAGIC

pytestmark = pytest.mark.integration

PASSWORD = "Member-pass-1!"
INPUT = {"method": "echo", "kwargs": {}}


@dataclass
class World:
    server: LiveServer
    root: Client
    victim: int            # organization A
    attacker: int          # organization B (its admin is a Collaboration Admin)
    outsider: int          # organization D, in no collaboration with B
    collab: int            # encrypted, A and B
    node_a: int
    victim_key: Any

    def token(self, username: str) -> str:
        answer = requests.post(f"{self.server.url}/token/user", timeout=10,
                               json={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def call(self, method: str, path: str, token: str, body: Any = None
             ) -> requests.Response:
        return requests.request(method, f"{self.server.url}{path}", json=body, timeout=10,
                                headers={"Authorization": f"Bearer {token}"})

    def client(self, username: str, trust: Path) -> Client:
        client = Client("http://127.0.0.1", self.server.port, "/api", trust_file=trust)
        client.authenticate(username, PASSWORD)
        return client


def _role(root: Client, name: str) -> list[int]:
    return [r["id"] for r in root.role.list(all_pages=True) if r["name"] == name]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = LiveServer(tmp_path_factory.mktemp("governance") / "server.sqlite").start()
    try:
        root = Client("http://127.0.0.1", server.port, "/api", trust_file=None)
        root.authenticate("root", ROOT_PASSWORD)
        victim, attacker, outsider = (root.organization.create(name=n)["id"]
                                      for n in ("victim", "attacker", "outsider"))
        keys = {org: generate_private_key(2048) for org in (victim, attacker)}
        for org, key in keys.items():
            root.organization.update(org, public_key=public_key_b64(key))
        collab = root.collaboration.create("sealed", [victim, attacker], encrypted=True)["id"]
        for org, name in ((attacker, "node-b"), (victim, "node-a")):
            root.node.create(collaboration=collab, organization=org, name=name)
        for name, org, role in (("admin-b", attacker, "Collaboration Admin"),
                                ("admin-a", victim, "Organization Admin"),
                                ("researcher-a", victim, "Researcher"),
                                ("admin-d", outsider, "Organization Admin"),
                                ("root-a", victim, "Root")):
            root.user.create(username=name, password=PASSWORD, organization=org,
                             roles=_role(root, role), email=f"{name}@example.org")
        node_id = next(n["id"] for n in root.node.list(collaboration=collab)["data"]
                       if n["organization_id"] == victim)
        yield World(server, root, victim, attacker, outsider, collab, node_id, keys[victim])
    finally:
        server.stop()


# --------------------------------------------------------------------- finding 2: key swap
def test_other_members_admin_cannot_take_over_a_node_or_its_key(world: World) -> None:
    b = world.token("admin-b")
    reset = world.call("POST", f"/node/{world.node_a}/api_key", b)
    assert reset.status_code == 403 and "organization" in reset.json()["message"]
    own_node = world.call("POST", "/node", b, {"collaboration_id": world.collab,
                                                "organization_id": world.victim})
    assert own_node.status_code in (403, 409)
    swap = world.call("PATCH", f"/organization/{world.victim}", b,
                      {"public_key": public_key_b64(generate_private_key(2048))})
    assert swap.status_code == 403
    held = world.root.organization.get(world.victim)["public_key"]
    assert held == public_key_b64(world.victim_key)


def test_a_key_swapped_on_the_server_is_refused_by_the_researcher(world: World,
                                                                  tmp_path: Path) -> None:
    """Even a hostile server operator cannot make an honest client seal for its key."""
    trust = tmp_path / "pins.json"
    researcher = world.client("researcher-a", trust)
    researcher.task.create(collaboration=world.collab, organizations=[world.attacker],
                           image="img:1", input_=INPUT)  # pins organization B's key
    honest = world.root.organization.get(world.attacker)["public_key"]
    attacker_key = generate_private_key(2048)
    world.root.organization.update(world.attacker, public_key=public_key_b64(attacker_key))
    try:
        later = world.client("researcher-a", trust)
        before = len(later.task.list(all_pages=True))
        with pytest.raises(errors.KeyChangedError) as caught:
            later.task.create(collaboration=world.collab, organizations=[world.attacker],
                              image="img:1", input_=INPUT)
        assert fingerprint(attacker_key)[:16] in caught.value.message
        assert len(later.task.list(all_pages=True)) == before  # nothing was sent
    finally:
        world.root.organization.update(world.attacker, public_key=honest)


# ------------------------------------------------------------ finding 3: encryption off
def test_encryption_cannot_be_switched_off(world: World, tmp_path: Path) -> None:
    b = world.token("admin-b")
    off = world.call("PATCH", f"/collaboration/{world.collab}", b, {"encrypted": False})
    assert off.status_code == 409 and "already has tasks" in off.json()["message"]
    by_root = world.call("PATCH", f"/collaboration/{world.collab}", world.root.token or "",
                         {"encrypted": False})
    assert by_root.status_code == 409
    assert world.root.collaboration.get(world.collab)["encrypted"] is True
    # a fresh collaboration without tasks: a member's admin still may not lower it
    fresh = world.root.collaboration.create("fresh", [world.victim, world.attacker],
                                            encrypted=True)["id"]
    assert world.call("PATCH", f"/collaboration/{fresh}", b,
                      {"encrypted": False}).status_code == 403


def test_a_client_that_saw_encryption_never_sends_plaintext(world: World,
                                                            tmp_path: Path) -> None:
    fresh = world.root.collaboration.create("downgraded", [world.victim, world.attacker],
                                            encrypted=True)["id"]
    trust = tmp_path / "pins.json"
    researcher = world.client("researcher-a", trust)
    assert researcher.codec.is_encrypted(fresh)  # seen encrypted once
    world.root.collaboration.update(fresh, encrypted=False)  # root, before any task
    later = world.client("researcher-a", trust)
    with pytest.raises(errors.EncryptionDowngradeError):
        later.task.create(collaboration=fresh, organizations=[world.victim], image="i",
                          input_=INPUT)
    assert later.task.list(collaboration=fresh)["data"] == []


# ----------------------------------------------------- finding 7: membership needs consent
def test_an_outsider_joins_only_with_its_own_consent(world: World) -> None:
    b = world.token("admin-b")
    invited = world.call("POST", f"/collaboration/{world.collab}/organization", b,
                         {"id": world.outsider})
    assert invited.status_code == 202 and "invited" in invited.json()["msg"]
    nowhere = world.call("POST", f"/collaboration/{world.collab}/organization", b,
                         {"id": 999_999})
    assert nowhere.status_code == 202  # the same answer: ids cannot be enumerated
    assert world.outsider not in world.root.collaboration.get(world.collab)["organization_ids"]
    users = world.call("GET", f"/user?organization_id={world.outsider}", b).json()["data"]
    assert users == []
    assert world.call("GET", f"/organization/{world.outsider}", b).status_code == 404
    node = world.call("POST", "/node", b, {"collaboration_id": world.collab,
                                           "organization_id": world.outsider})
    assert node.status_code in (400, 403)
    # a member's admin cannot shortcut it by rewriting the member list either
    members = world.root.collaboration.get(world.collab)["organization_ids"]
    rewrite = world.call("PATCH", f"/collaboration/{world.collab}", b,
                         {"organization_ids": [*members, world.outsider]})
    assert rewrite.status_code == 403 and "agree to join" in rewrite.json()["message"]
    # the outsider's own administrator accepts: now it is a member
    d = world.token("admin-d")
    joined = world.call("POST", f"/collaboration/{world.collab}/organization", d,
                        {"id": world.outsider})
    assert joined.status_code == 200 and world.outsider in joined.json()["organization_ids"]
    world.root.collaboration.remove_organization(world.collab, world.outsider)


def test_an_organization_cannot_push_itself_into_a_collaboration(world: World) -> None:
    d = world.token("admin-d")
    other = world.root.collaboration.create("closed", [world.victim], encrypted=False)["id"]
    asked = world.call("POST", f"/collaboration/{other}/organization", d,
                       {"id": world.outsider})
    assert asked.status_code == 202 and "agrees to join" in asked.json()["msg"]
    assert world.root.collaboration.get(other)["organization_ids"] == [world.victim]
    foreign = world.call("POST", f"/collaboration/{other}/organization", d,
                         {"id": world.attacker})
    assert foreign.status_code == 403


# ---------------------------------------------------- finding 12: a Root user is safe
def test_an_organization_admin_cannot_edit_or_delete_a_root_user(world: World) -> None:
    a = world.token("admin-a")
    root_a = next(u["id"] for u in world.root.user.list(all_pages=True)
                  if u["username"] == "root-a")
    edit = world.call("PATCH", f"/user/{root_a}", a, {"email": "taken@attacker.org"})
    assert edit.status_code == 403 and "rule(s) you do not hold" in edit.json()["message"]
    assert world.call("DELETE", f"/user/{root_a}", a).status_code == 403
    assert world.root.user.get(root_a)["email"] == "root-a@example.org"
    researcher = next(u["id"] for u in world.root.user.list(all_pages=True)
                      if u["username"] == "researcher-a")
    assert world.call("PATCH", f"/user/{researcher}", a,
                      {"firstname": "Ann"}).status_code == 200


# ------------------------------------------------ finding 14: names and magic bytes
@pytest.mark.parametrize("name", ["Root", " root ", "ROOT", "Collaboration  Admin"])
def test_no_custom_role_passes_itself_off_as_a_default_role(world: World, name: str) -> None:
    a = world.token("admin-a")
    created = world.call("POST", "/role", a, {"name": name, "rule_ids": []})
    assert created.status_code == 409 and "reserved" in created.json()["message"]


def test_magic_bytes_do_not_make_plaintext_look_encrypted(world: World) -> None:
    a = world.token("researcher-a")
    plain = base64.b64encode(MAGIC + b'{"method": "echo", "kwargs": {}}').decode()
    answer = world.call("POST", "/task", a, {
        "collaboration_id": world.collab, "name": "leak", "image": "img:1",
        "organizations": [{"id": world.attacker, "input": plain}]})
    assert answer.status_code == 400 and "not a sealed envelope" in answer.json()["message"]
