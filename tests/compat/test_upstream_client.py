"""vantage6 4.x scripts, run unchanged with vantage6's own client, against a v6lib server.

A :class:`~v6lib.testing.LocalFederation` (a real server over HTTP, real process-runtime
nodes, a plain collaboration) serves ``upstream_script.py``, which runs in the upstream
client's venv and writes what each call answered; every call is checked here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyotp
import pytest
import requests

from tests.live_server import serve_sqlite_server
from v6lib.client import Client
from v6lib.testing import LocalFederation

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ALGORITHMS = HERE.parent / "contract" / "algorithms"
if str(ALGORITHMS) not in sys.path:
    sys.path.insert(0, str(ALGORITHMS))

import v6_contract  # noqa: E402

FRAMES = [pd.DataFrame({"value": [1.0, 2.0, 3.0]}), pd.DataFrame({"value": [4.0, 5.0]})]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    with LocalFederation(v6_contract, [{"default": f} for f in FRAMES],
                         workdir=tmp_path_factory.mktemp("federation")) as running:
        yield running


def run_upstream(python: Path, workdir: Path, **settings: Any) -> dict[str, Any]:
    """Run the upstream script with ``settings``; what each call answered."""
    settings_file = workdir / "settings.json"
    output = workdir / "outcomes.json"
    settings_file.write_text(json.dumps({**settings, "output": str(output)}))
    done = subprocess.run([str(python), str(HERE / "upstream_script.py"), str(settings_file)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(output.read_text())


@dataclass(frozen=True)
class UpstreamRun:
    """What the upstream script answered, and the ids it was given."""

    outcomes: dict[str, Any]
    ids: dict[str, int]
    organizations: list[int]
    researcher_id: int
    root: Client
    rules: list[int]

    def value(self, call: str) -> Any:
        outcome = self.outcomes[call]
        assert outcome["ok"], f"{call} failed: {outcome['error']}\n{outcome['trace']}"
        return outcome["value"]


@pytest.fixture(scope="module")
def upstream(federation: LocalFederation, upstream_python: Path,
             tmp_path_factory: pytest.TempPathFactory) -> UpstreamRun:
    root = Client("http://127.0.0.1", federation.port, "/api", trust_file=None)
    root.authenticate("root", LocalFederation.PASSWORD)
    researcher = federation.client
    study = root.study.create("upstream study", federation.collaboration_id,
                              federation.organization_ids)
    ids = {"organization": federation.organization_ids[1],
           "collaboration": federation.collaboration_id,
           "node": researcher.node.list(all_pages=True)[0]["id"],
           "user": researcher.user_id,
           "role": root.role.list(all_pages=True)[0]["id"],
           "rule": root.rule.list(all_pages=True)[0]["id"],
           "study": study["id"]}
    rules = [r["id"] for r in root.rule.list(all_pages=True)[:2]]
    outcomes = run_upstream(
        upstream_python, tmp_path_factory.mktemp("upstream-run"),
        host="http://127.0.0.1", port=federation.port, path="/api",
        username="researcher", password=LocalFederation.PASSWORD, ids=ids,
        collaboration=federation.collaboration_id,
        organizations=federation.organization_ids, image=federation.image,
        admin={"username": "root", "password": LocalFederation.PASSWORD, "rules": rules})
    return UpstreamRun(outcomes, ids, list(federation.organization_ids),
                       researcher.user_id, root, rules)


#: what ``partial_sum`` computes at each organization, in organization order
EXPECTED_SUMS = [{"sum": float(f["value"].sum()), "count": len(f)} for f in FRAMES]


def test_every_call_of_the_script_works(upstream: UpstreamRun) -> None:
    failed = {call: o["error"] for call, o in upstream.outcomes.items() if not o["ok"]}
    assert failed == {}
    assert len(upstream.outcomes) == 40


def test_login_identifies_the_user_and_organization(upstream: UpstreamRun) -> None:
    assert upstream.value("authenticate") is None  # vantage6's client returns nothing
    assert upstream.value("whoami") == {
        "id": str(upstream.researcher_id), "name": None,
        "organization_id": upstream.organizations[0], "organization_name": "organization 1"}


@pytest.mark.parametrize("resource", ["organization", "collaboration", "node", "user", "role",
                                      "rule", "study"])
def test_list_and_get(upstream: UpstreamRun, resource: str) -> None:
    listed = upstream.value(f"{resource}.list")
    assert upstream.ids[resource] in [item["id"] for item in listed["data"]]
    assert upstream.value(f"{resource}.get")["id"] == upstream.ids[resource]


def test_items_carry_vantage6_references(upstream: UpstreamRun) -> None:
    node = upstream.value("node.get")
    assert node["collaboration"] == {"id": upstream.ids["collaboration"],
                                     "link": f"/api/collaboration/{upstream.ids['collaboration']}",
                                     "methods": ["DELETE", "GET", "PATCH"]}
    assert upstream.value("user.get")["organization"]["id"] == upstream.organizations[0]


def test_task_created_by_the_upstream_client_runs_at_every_organization(
        upstream: UpstreamRun) -> None:
    task = upstream.value("task.create")
    assert (task["name"], task["init_org_id"]) == ("upstream sum", upstream.organizations[0])
    assert upstream.value("task.get")["id"] == task["id"]
    runs = upstream.value("run.from_task")["data"]
    assert {r["status"] for r in runs} == {"completed"}
    assert sorted(r["organization_id"] for r in runs) == upstream.organizations
    assert [json.loads(r["input"]) for r in runs] == \
        [{"method": "partial_sum", "kwargs": {"column": "value"}}] * len(runs)


@pytest.mark.parametrize("call", ["wait_for_results", "result.from_task"])
def test_results_read_by_the_upstream_client_are_what_the_algorithm_computed(
        upstream: UpstreamRun, call: str) -> None:
    results = sorted(upstream.value(call)["data"], key=lambda r: r["organization_id"])
    assert [json.loads(r["result"]) for r in results] == EXPECTED_SUMS


def test_kill_stops_the_task(upstream: UpstreamRun) -> None:
    assert upstream.value("task.kill") is None  # vantage6's client logs the answer
    assert upstream.value("task.get (killed)")["status"] == "killed by user"


def test_run_list_state_open_is_the_unfinished_runs(upstream: UpstreamRun) -> None:
    slow = upstream.value("task.create (slow)")["id"]
    open_runs = upstream.value("run.list (open)")["data"]
    assert {r["task_id"] for r in open_runs} == {slow}
    assert sorted(r["organization_id"] for r in open_runs) == upstream.organizations
    assert upstream.value("run.list (open, killed)")["data"] == []


def test_sort_through_the_upstream_clients_request(upstream: UpstreamRun) -> None:
    ids = [o["id"] for o in upstream.value("request (sort)")["data"]]
    assert ids == sorted(ids, reverse=True) and set(upstream.organizations) <= set(ids)
    refused = upstream.value("request (sort unknown)")  # the client returns the error body
    assert refused["code"] == "validation_error" and "'password'" in refused["msg"]


def test_node_kill_tasks_stops_only_that_nodes_run(upstream: UpstreamRun) -> None:
    assert "msg" in upstream.value("node.kill_tasks")
    runs = {r["node_id"]: r["status"] for r in
            upstream.value("run.from_task (node kill)")["data"]}
    assert runs.pop(upstream.ids["node"]) == "killed by user"
    assert runs and "killed by user" not in runs.values()  # the other node's run went on


def test_role_and_user_created_with_vantage6s_field_names(upstream: UpstreamRun) -> None:
    role = upstream.value("role.create")
    assert role["name"] == "upstream viewer"
    assert upstream.root.role.get(role["id"])["rule_ids"] == upstream.rules
    user = upstream.value("user.create")
    stored = upstream.root.user.get(user["id"])
    assert (stored["username"], stored["firstname"], stored["role_ids"]) == \
        ("upstream-made", "Grace", [role["id"]])


def test_study_membership_through_the_upstream_client(upstream: UpstreamRun) -> None:
    member = upstream.organizations[-1]
    removed = upstream.value("study.remove_organization")
    added = upstream.value("study.add_organization")
    assert member not in removed["organization_ids"] and member in added["organization_ids"]
    study = upstream.root.study.get(upstream.ids["study"])
    assert sorted(study["organization_ids"]) == upstream.organizations


def test_password_change_with_vantage6s_method(upstream: UpstreamRun) -> None:
    assert upstream.value("util.change_my_password")["msg"]
    assert upstream.value("authenticate (changed password)") is None


# ----------------------------------------------------------------- two-factor login
@pytest.fixture(scope="module")
def mfa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A server that requires two-factor authentication; yields its port."""
    yield from serve_sqlite_server(tmp_path_factory, MFA_PASSWORD, mfa_required=True)


MFA_PASSWORD = "Mfa-password-1!"


def _enrol(base: str, username: str) -> str:
    """Log in without a code: the enrolment answer; returns the TOTP secret."""
    answer = requests.post(f"{base}/token/user", timeout=10,
                           json={"username": username, "password": MFA_PASSWORD})
    body = answer.json()
    assert answer.status_code == 200 and body["qr_uri"] == body["provisioning_uri"]
    assert "access_token" not in body and "refresh_token" not in body
    return str(body["otp_secret"])


def test_two_factor_enrolment_then_login_with_integer_and_string_codes(
        mfa_server: int, upstream_python: Path, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{mfa_server}/api"
    root_secret = _enrol(base, "root")
    root = requests.post(f"{base}/token/user", timeout=10, json={
        "username": "root", "password": MFA_PASSWORD,
        "mfa_code": pyotp.TOTP(root_secret).now()}).json()["access_token"]
    auth = {"Authorization": f"Bearer {root}"}
    org = requests.post(f"{base}/organization", json={"name": "mfa org"}, headers=auth,
                        timeout=10).json()["id"]
    researcher = next(r["id"] for r in requests.get(
        f"{base}/role", headers=auth, timeout=10).json()["data"] if r["name"] == "Researcher")
    requests.post(f"{base}/user", headers=auth, timeout=10, json={
        "username": "mfa-user", "password": MFA_PASSWORD, "organization_id": org,
        "firstname": "Ada", "role_ids": [researcher]}).raise_for_status()
    # enrolment as the person does it: vantage6's client prints the QR code and secret
    first = run_upstream(upstream_python, tmp_path, host="http://127.0.0.1",
                         port=mfa_server, path="/api", username="mfa-user",
                         password=MFA_PASSWORD, only_login=True)
    assert first["authenticate"] == {"ok": True, "value": None}
    printed = first["authenticate (printed)"]["value"]
    assert "two-factor authentication" in printed and "log in again" in printed
    found = re.search(r"authenticator app: ([A-Z2-7]+)", printed)
    assert found, printed
    assert not first["whoami"]["ok"]  # no token: the client is not logged in
    assert requests.get(f"{base}/user", timeout=10).status_code == 401
    totp = pyotp.TOTP(found.group(1))
    now = datetime.now(UTC)
    # a code is used once: the second login takes the next step's (accepted ±1 step)
    codes = [int(totp.at(now)), totp.at(now + timedelta(seconds=30))]
    for code in codes:
        outcomes = run_upstream(upstream_python, tmp_path, host="http://127.0.0.1",
                                port=mfa_server, path="/api", username="mfa-user",
                                password=MFA_PASSWORD, mfa_code=code, only_login=True)
        assert outcomes["authenticate"] == {"ok": True, "value": None}, outcomes
        assert outcomes["whoami"]["value"]["organization_id"] == org
        assert outcomes["whoami"]["value"]["name"] == "Ada"


def test_two_factor_login_without_a_code_is_refused(
        mfa_server: int, upstream_python: Path, tmp_path: Path) -> None:
    outcomes = run_upstream(upstream_python, tmp_path, host="http://127.0.0.1",
                            port=mfa_server, path="/api", username="root",
                            password=MFA_PASSWORD, only_login=True)
    assert outcomes["authenticate"]["error"] == \
        "AuthenticationException: Failed to authenticate"


# ----------------------------------------------------------------- encrypted collaborations
def test_tasks_of_encrypted_collaborations_are_refused_naming_why(
        upstream_python: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    with LocalFederation(v6_contract, [{"default": f} for f in FRAMES], encrypted=True,
                         workdir=tmp_path_factory.mktemp("encrypted")) as encrypted:
        first = encrypted.organization_ids[0]
        key = encrypted.workdir / f"organization-{first}.pem"
        public_key = encrypted.client.organization.get(first)["public_key"]
        outcomes = run_upstream(
            upstream_python, tmp_path_factory.mktemp("upstream-encrypted"),
            host="http://127.0.0.1", port=encrypted.port, path="/api",
            username="researcher", password=LocalFederation.PASSWORD,
            encrypted_task={"collaboration": encrypted.collaboration_id,
                            "organizations": encrypted.organization_ids,
                            "image": encrypted.image, "private_key": str(key)})
        assert encrypted.client.task.list(all_pages=True) == []
        # the upstream client recognised the key as the server's: nothing was replaced
        assert encrypted.client.organization.get(first)["public_key"] == public_key
    assert outcomes["setup_encryption (key)"] == {"ok": True, "value": None}
    # vantage6's client answers a refused request with the error body
    sealed = outcomes["task.create (sealed)"]["value"]
    assert sealed["code"] == "validation_error"
    assert "vantage6's format" in sealed["msg"] and "AES-CTR" in sealed["msg"]
    unsealed = outcomes["task.create (unsealed)"]["value"]
    assert unsealed["code"] == "validation_error"
    assert "collaboration is encrypted" in unsealed["msg"]
