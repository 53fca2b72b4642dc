"""Ids that left the server are never handed out again (found while testing replays).

SQLite without AUTOINCREMENT reuses the highest deleted id. A token of a deleted user
then logged in as the next user created, and a node that had journaled a deleted task's
run ignored the next task's run with the same id, which stayed pending for ever.
"""

from __future__ import annotations

import requests

from tests.integration.conftest import LiveServer, live_server

__all__ = ["live_server"]

PASSWORD = "Reused-ids-1!"


def test_a_deleted_users_token_does_not_open_the_next_account(live_server: LiveServer) -> None:
    root = live_server.root()
    org = root.organization.create(name="ids")["id"]
    first = root.user.create(username="first", password=PASSWORD, organization=org)
    token = requests.post(f"{live_server.url}/token/user", timeout=10, json={
        "username": "first", "password": PASSWORD}).json()["access_token"]
    root.user.delete(first["id"])
    second = root.user.create(username="second", password=PASSWORD, organization=org)
    assert second["id"] > first["id"]
    answer = requests.get(f"{live_server.url}/user/{second['id']}", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_task_and_run_ids_are_not_reused(live_server: LiveServer) -> None:
    root = live_server.root()
    orgs = [root.organization.create(name=f"ids-{i}")["id"] for i in range(2)]
    collab = root.collaboration.create("ids", orgs)["id"]
    root.node.create(collaboration=collab, organization=orgs[0])
    admin = root.user.create(username="ids-admin", password=PASSWORD, organization=orgs[0],
                             roles=[r["id"] for r in root.role.list(all_pages=True)
                                    if r["name"] == "Collaboration Admin"])
    assert admin
    token = requests.post(f"{live_server.url}/token/user", timeout=10, json={
        "username": "ids-admin", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def create() -> dict:
        answer = requests.post(f"{live_server.url}/task", headers=headers, timeout=10, json={
            "collaboration_id": collab, "name": "t", "image": "i",
            "organizations": [{"id": orgs[0], "input": "e30="}]})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    old = create()
    old_run = requests.get(f"{live_server.url}/run?task_id={old['id']}", headers=headers,
                           timeout=10).json()["data"][0]["id"]
    assert requests.delete(f"{live_server.url}/task/{old['id']}", headers=headers,
                           timeout=10).status_code == 200
    new = create()
    new_run = requests.get(f"{live_server.url}/run?task_id={new['id']}", headers=headers,
                           timeout=10).json()["data"][0]["id"]
    assert new["id"] > old["id"] and new_run > old_run
