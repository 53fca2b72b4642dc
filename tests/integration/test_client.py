"""The UserClient against a real v6lib server on 127.0.0.1 (threaded WSGI server).

No node runs here: the tests play the node through the transport (node login, PATCH of
the run with a plain or sealed result), which is exactly what a node sends.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.live_server import serve_sqlite_server
from v6lib import errors, serialization
from v6lib.cli import main
from v6lib.client import Client, RunOutcome
from v6lib.client.transport import Transport
from v6lib.crypto import (
    TaskBinding,
    generate_private_key,
    open_sealed,
    public_key_b64,
    save_private_key,
    seal,
)

pytestmark = pytest.mark.integration

ROOT_PASSWORD = "Root-password-1"
RESEARCHER_PASSWORD = "Researcher-pw-2"


@dataclass
class World:
    url: str
    port: int
    root: Client
    researcher: Client
    org_ids: list[int]
    plain: int
    encrypted: int
    api_keys: dict[tuple[int, int], str]
    keys: dict[int, Any]
    key_path: Path


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from serve_sqlite_server(tmp_path_factory, ROOT_PASSWORD)


@pytest.fixture(scope="module")
def world(live_server: int, tmp_path_factory: pytest.TempPathFactory) -> World:
    port = live_server
    root = Client("http://127.0.0.1", port, "/api")
    root.authenticate("root", ROOT_PASSWORD)
    keys = {name: generate_private_key(2048) for name in ("a", "b")}
    org_a = root.organization.create(name="Org A", country="NL",
                                     public_key=public_key_b64(keys["a"]))
    org_b = root.organization.create(name="Org B", public_key=public_key_b64(keys["b"]))
    org_c = root.organization.create(name="Org C")
    ids = [org_a["id"], org_b["id"], org_c["id"]]
    plain = root.collaboration.create("plain", ids[:2])
    encrypted = root.collaboration.create("sealed", ids[:2], encrypted=True)
    api_keys = {}
    for collab in (plain["id"], encrypted["id"]):
        for org in ids[:2]:
            api_keys[(collab, org)] = root.node.create(collaboration=collab, organization=org,
                                                       name=f"n-{collab}-{org}")
    researcher_role = [r["id"] for r in root.role.list(all_pages=True)
                       if r["name"] == "Researcher"]
    assert researcher_role, "the server has no default Researcher role"
    # The default Researcher role alone: what a real researcher gets.
    root.user.create(username="researcher", password=RESEARCHER_PASSWORD, organization=ids[0],
                     roles=researcher_role, email="r@example.org")
    researcher = Client("http://127.0.0.1", port, "/api")
    researcher.authenticate("researcher", RESEARCHER_PASSWORD)
    key_path = tmp_path_factory.mktemp("keys") / "org_a.pem"
    save_private_key(keys["a"], key_path)
    return World(f"http://127.0.0.1:{port}/api", port, root, researcher, ids, plain["id"],
                 encrypted["id"], api_keys, {ids[0]: keys["a"], ids[1]: keys["b"]}, key_path)


# ---------------------------------------------------------------- playing the node
def _node(world: World, collab: int, org: int) -> Transport:
    transport = Transport(world.url)
    answer = transport.post("/token/node", json={"api_key": world.api_keys[(collab, org)]},
                            authenticated=False)
    transport.token = answer["access_token"]
    return transport


def _finish(node: Transport, run: dict[str, Any], status: str = "completed",
            result: bytes | None = None, log: str = "") -> None:
    node.patch(f"/run/{run['id']}", json={"status": "initializing"})
    node.patch(f"/run/{run['id']}", json={"status": "active"})
    body: dict[str, Any] = {"status": status, "log": log}
    if result is not None:
        body["result"] = base64.b64encode(result).decode()
    node.patch(f"/run/{run['id']}", json=body)


INPUT = {"method": "partial_average", "kwargs": {"column": "age"}}


# ---------------------------------------------------------------- administration
def test_organization_methods(world: World) -> None:
    root = world.root
    org = root.organization.get(world.org_ids[2])
    assert org["name"] == "Org C" and org["public_key"] is None
    updated = root.organization.update(world.org_ids[2], domain="c.example.org")
    assert updated["domain"] == "c.example.org"
    names = [o["name"] for o in root.organization.list(all_pages=True, fields=["name"])]
    assert {"Org A", "Org B", "Org C"} <= set(names)
    first = root.organization.list(per_page=1)
    assert len(first["data"]) == 1 and first["total"] >= 4


def test_collaboration_methods(world: World) -> None:
    root = world.root
    collab = root.collaboration.create("temporary", [world.org_ids[0]])
    assert root.collaboration.get(collab["id"])["organization_ids"] == [world.org_ids[0]]
    root.collaboration.add_organization(collab["id"], world.org_ids[2])
    assert set(root.collaboration.get(collab["id"])["organization_ids"]) == {
        world.org_ids[0], world.org_ids[2]}
    root.collaboration.remove_organization(collab["id"], world.org_ids[2])
    assert root.collaboration.update(collab["id"], name="renamed")["name"] == "renamed"
    assert collab["id"] in [c["id"] for c in root.collaboration.list(all_pages=True)]
    root.collaboration.delete(collab["id"])
    with pytest.raises(errors.NotFoundError):
        root.collaboration.get(collab["id"])


def test_study_methods(world: World) -> None:
    root = world.root
    study = root.study.create("cohort", collaboration=world.plain,
                              organizations=[world.org_ids[0]])
    assert root.study.get(study["id"])["collaboration_id"] == world.plain
    assert root.study.update(study["id"], name="cohort 2")["name"] == "cohort 2"
    assert study["id"] in [s["id"] for s in root.study.list(collaboration=world.plain,
                                                              all_pages=True)]
    root.study.delete(study["id"])
    with pytest.raises(errors.NotFoundError):
        root.study.get(study["id"])


def test_node_methods(world: World) -> None:
    root = world.root
    collab = root.collaboration.create("for nodes", [world.org_ids[2]])
    created = root.node.create(collaboration=collab["id"], organization=world.org_ids[2],
                               details=True)
    assert created["api_key"] and created["status"] == "offline"
    assert root.node.get(created["id"])["organization_id"] == world.org_ids[2]
    assert root.node.update(created["id"], name="renamed")["name"] == "renamed"
    new_key = root.node.reset_api_key(created["id"])
    assert new_key != created["api_key"]
    listed = root.node.list(collaboration=collab["id"], all_pages=True)
    assert [n["id"] for n in listed] == [created["id"]]
    root.node.delete(created["id"])
    with pytest.raises(errors.NotFoundError):
        root.node.get(created["id"])
    root.collaboration.delete(collab["id"])


def test_user_role_rule_methods(world: World) -> None:
    root = world.root
    rules = root.rule.list(all_pages=True)
    task_view = next(r for r in rules if r["name"] == "task" and r["operation"] == "view")
    assert root.rule.get(task_view["id"]) == task_view
    # whoami reads the own user and organization, so the role must allow that.
    own = [r["id"] for r in rules if r["name"] in ("user", "organization")
           and r["operation"] == "view" and r["scope"] in ("own", "organization")]
    role = root.role.create("viewer of tasks", rules=[task_view["id"], *own], description="d",
                            organization=world.org_ids[1])
    assert set(root.role.get(role["id"])["rule_ids"]) == {task_view["id"], *own}
    assert root.role.update(role["id"], description="e")["description"] == "e"
    user = root.user.create(username="temp", password="Temp-pass-3", organization=world.org_ids[1],
                            roles=[role["id"]], firstname="T")
    assert root.user.get(user["id"])["role_ids"] == [role["id"]]
    assert root.user.update(user["id"], lastname="User")["lastname"] == "User"
    assert user["id"] in [u["id"] for u in root.user.list(all_pages=True)]
    temp = Client("http://127.0.0.1", world.port, "/api")
    temp.authenticate("temp", "Temp-pass-3")
    assert temp.whoami["organization"]["name"] == "Org B"
    temp.user.change_password("Temp-pass-3", "Temp-pass-4")
    temp.authenticate("temp", "Temp-pass-4")
    with pytest.raises(errors.AuthenticationError):
        temp.authenticate("temp", "Temp-pass-3")
    root.user.delete(user["id"])
    root.role.delete(role["id"])
    with pytest.raises(errors.NotFoundError):
        root.role.get(role["id"])


def test_refresh_after_a_bad_access_token(world: World) -> None:
    client = Client("http://127.0.0.1", world.port, "/api")
    client.authenticate("researcher", RESEARCHER_PASSWORD)
    client.transport.token = "not-a-valid-token"
    assert client.whoami["user"]["username"] == "researcher"
    assert client.token != "not-a-valid-token"


def test_researcher_may_not_create_organizations(world: World) -> None:
    with pytest.raises(errors.PermissionDenied):
        world.researcher.organization.create(name="Rogue")


# ---------------------------------------------------------------- tasks and results
def test_plain_task_round_trip(world: World) -> None:
    client = world.researcher
    task = client.task.create(collaboration=world.plain, organizations=world.org_ids[:2],
                              name="avg", image="v6-average:latest", input_=INPUT)
    assert client.task.get(task["id"])["status"] == "pending"
    assert task["id"] in [t["id"] for t in client.task.list(collaboration=world.plain,
                                                             all_pages=True)]
    runs = client.run.from_task(task["id"])
    assert [r["organization_id"] for r in runs] == world.org_ids[:2]
    for org, run in zip(world.org_ids[:2], runs, strict=True):
        node = _node(world, world.plain, org)
        sent = serialization.loads(base64.b64decode(node.get(f"/run/{run['id']}")["input"]))
        assert sent["kwargs"] == {"column": "age"}
        _finish(node, run, result=serialization.dumps({"sum": org * 10.0, "count": org}))

    results = client.wait_for_results(task["id"], timeout=30)
    assert results == [{"sum": o * 10.0, "count": o} for o in world.org_ids[:2]]
    assert client.result.from_task(task["id"]) == results
    listed = client.result.list(task=task["id"])
    assert [item["result"] for item in listed["data"]] == results
    assert client.run.get(runs[0]["id"])["status"] == "completed"


def test_failed_run_is_reported_with_organization_and_log(world: World) -> None:
    client = world.researcher
    task = client.task.create(collaboration=world.plain, organizations=world.org_ids[:2],
                              name="fails", image="v6-average:latest", input_=INPUT)
    ok_run, bad_run = client.run.from_task(task["id"])
    _finish(_node(world, world.plain, world.org_ids[0]), ok_run,
            result=serialization.dumps(1))
    _finish(_node(world, world.plain, world.org_ids[1]), bad_run, status="failed",
            log="Traceback\nDataError: column 'age' not found")
    with pytest.raises(errors.AlgorithmError, match=r"Org B.*'failed'") as info:
        client.wait_for_results(task["id"], timeout=30)
    assert "column 'age' not found" in str(info.value)
    outcomes = client.wait_for_results(task["id"], timeout=30, raise_on_failure=False)
    assert [o.ok for o in outcomes] == [True, False]
    assert isinstance(outcomes[0], RunOutcome) and outcomes[0].result == 1


def test_wait_times_out_while_runs_are_pending(world: World) -> None:
    client = world.researcher
    task = client.task.create(collaboration=world.plain, organizations=[world.org_ids[0]],
                              image="v6-average:latest", input_=INPUT)
    with pytest.raises(errors.WaitTimeoutError):
        client.wait_for_results(task["id"], timeout=0.5, interval=0.2)
    client.task.kill(task["id"])
    assert client.run.from_task(task["id"])[0]["status"] == "killed by user"
    client.task.delete(task["id"])
    with pytest.raises(errors.NotFoundError):
        client.task.get(task["id"])


def test_encrypted_task_end_to_end(world: World) -> None:
    client = Client("http://127.0.0.1", world.port, "/api")
    client.authenticate("researcher", RESEARCHER_PASSWORD)
    client.setup_encryption(world.key_path)
    org_a, org_b = world.org_ids[:2]
    task = client.task.create(collaboration=world.encrypted, organizations=[org_a, org_b],
                              name="sealed", image="v6-average:latest", input_=INPUT)
    for org, run in zip((org_a, org_b), client.run.from_task(task["id"]), strict=True):
        node = _node(world, world.encrypted, org)
        blob = base64.b64decode(node.get(f"/run/{run['id']}")["input"])
        plain = open_sealed(blob, world.keys[org], TaskBinding.of(task).input(org))
        assert serialization.loads(plain)["method"] == "partial_average"
        # The node seals its result for the organization that created the task.
        result = seal(serialization.dumps({"org": org}), [world.keys[org_a].public_key()],
                      TaskBinding.of(task).result(org))
        _finish(node, run, result=result)

    assert client.wait_for_results(task["id"], timeout=30) == [{"org": org_a}, {"org": org_b}]
    assert client.result.from_task(task["id"]) == [{"org": org_a}, {"org": org_b}]
    # Without the private key the results stay closed, with a message saying why.
    keyless = Client("http://127.0.0.1", world.port, "/api")
    keyless.authenticate("researcher", RESEARCHER_PASSWORD)
    with pytest.raises(errors.EncryptionError, match="setup_encryption"):
        keyless.result.from_task(task["id"])


def test_default_researcher_sees_all_runs_of_own_task(world: World) -> None:
    """A task's creator must see every run (and result) of it, not only its own org's."""
    client = Client("http://127.0.0.1", world.port, "/api")
    client.authenticate("researcher", RESEARCHER_PASSWORD)
    task = client.task.create(collaboration=world.plain, organizations=world.org_ids[:2],
                              image="v6-average:latest", input_=INPUT)
    runs = client.run.from_task(task["id"])
    assert [r["organization_id"] for r in runs] == world.org_ids[:2]
    client.task.kill(task["id"])


def test_v6_task_commands_against_the_live_server(world: World) -> None:
    env = {"V6_USERNAME": "researcher", "V6_PASSWORD": RESEARCHER_PASSWORD,
           "V6_PORT": str(world.port), "V6_PRIVATE_KEY": str(world.key_path)}
    runner = CliRunner()
    created = runner.invoke(main, [
        "task", "create", "--collaboration", str(world.encrypted),
        "--organization", str(world.org_ids[0]), "--image", "v6-average:latest",
        "--method", "partial_average", "--kwargs", '{"column": "age"}', "--json"], env=env)
    assert created.exit_code == 0, created.output
    task = json.loads(created.output)
    [run] = world.researcher.run.from_task(task["id"])
    org = world.org_ids[0]
    sealed = seal(serialization.dumps({"sum": 3.0, "count": 2}),
                  [world.keys[org].public_key()], TaskBinding.of(task).result(org))
    _finish(_node(world, world.encrypted, org), run, result=sealed)

    status = runner.invoke(main, ["task", "status", str(task["id"]), "--json"], env=env)
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["runs"][0]["status"] == "completed"
    results = runner.invoke(main, ["task", "results", str(task["id"]), "--json"], env=env)
    assert results.exit_code == 0, results.output
    assert json.loads(results.output)["results"][0]["result"] == {"sum": 3.0, "count": 2}
