"""Batch import in the vantage6 ``vserver import`` format."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.server.conftest import Api
from v6lib.config.server import PasswordPolicy
from v6lib.errors import ValidationError
from v6lib.server.auth.passwords import TEST_COST
from v6lib.server.db.models import Collaboration, Node, Organization, User
from v6lib.server.importer import import_file

IKNL_KEY = "iknl-node-key-01.Y2hvb3NlIGEgbG9uZyByYW5kb20gc2VjcmV0IGhlcmU"
DOC = {
    "organizations": [
        {"name": "IKNL", "domain": "iknl.nl", "address1": "Street 1", "address2": None,
         "zipcode": "3511DT", "country": "Netherlands", "public_key": "QUJD",
         "users": [{"username": "admin", "firstname": "admin", "lastname": "robot",
                    "password": "Admin-pass-1!"}]},
        {"name": "Small Organization", "zipcode": 54331,
         "users": [{"username": "stan", "firstname": "Stan", "lastname": "the man",
                    "password": "Stan-pass-2!"}]},
    ],
    "collaborations": [
        {"name": "ZEPPELIN", "encrypted": False, "tasks": ["hello-world"],
         "participants": [{"name": "IKNL", "api_key": IKNL_KEY},
                          {"name": "Small Organization"}]},
    ],
}


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "import.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_import_then_log_in_everywhere(app: Any, api: Api, tmp_path: Path) -> None:
    path = _write(tmp_path, DOC)
    with app.v6_state.session_factory() as session:
        report = import_file(session, path, kdf_cost=TEST_COST)
        session.commit()
    assert report.organizations == ["IKNL", "Small Organization"]
    assert report.users == ["admin", "stan"]
    assert list(report.api_keys) == ["Small Organization - ZEPPELIN"]
    admin = api.login("admin", "Admin-pass-1!")
    orgs = api.ok("GET", "/organization", token=admin, params={"name": "IKNL"})["data"]
    assert orgs[0]["zipcode"] == "3511DT" and orgs[0]["public_key"] == "QUJD"
    node = api.node_login(IKNL_KEY)
    assert node
    assert api.node_login(report.api_keys["Small Organization - ZEPPELIN"])
    collab = api.ok("GET", "/collaboration", params={"name": "ZEPPELIN"})["data"][0]
    assert len(collab["organization_ids"]) == 2


def test_import_is_idempotent(app: Any, api: Api, tmp_path: Path) -> None:
    path = _write(tmp_path, DOC)
    for _ in range(2):
        with app.v6_state.session_factory() as session:
            import_file(session, path, kdf_cost=TEST_COST)
            session.commit()
    assert api.ok("GET", "/user", params={"username": "stan"})["total"] == 1
    assert api.ok("GET", "/node")["total"] == 2
    assert api.ok("GET", "/collaboration")["total"] == 1


@pytest.mark.parametrize(("doc", "error", "fragment"), [
    ({"organisations": []}, ValidationError, "organisations"),
    ({"collaborations": [{"name": "C", "participants": [{"name": "Ghost"}]}]},
     ValidationError, "Ghost"),
    ({"organizations": [{"users": []}]}, ValidationError, "organizations.0.name"),
    # vantage6 files carry UUID keys; a key must be of the selector.secret form
    ({"collaborations": [{"name": "C", "participants": [
        {"name": "IKNL", "api_key": "123e4567-e89b-12d3-a456-426614174001"}]}]},
     ValidationError, "collaborations.0.participants.0.api_key"),
])
def test_import_errors_name_the_entry(app: Any, tmp_path: Path, doc: Any,
                                      error: type[Exception], fragment: str) -> None:
    path = _write(tmp_path, doc)
    with app.v6_state.session_factory() as session, pytest.raises(error) as info:
        import_file(session, path, kdf_cost=TEST_COST)
    assert fragment in str(info.value)


def test_missing_or_broken_file(app: Any, tmp_path: Path) -> None:
    with app.v6_state.session_factory() as session:
        with pytest.raises(ValidationError, match="not found"):
            import_file(session, tmp_path / "nope.yaml")
        broken = tmp_path / "broken.yaml"
        broken.write_text("organizations: [", encoding="utf-8")
        with pytest.raises(ValidationError, match="invalid YAML"):
            import_file(session, broken)


def _counts(app: Any) -> dict[str, int]:
    with app.v6_state.session_factory() as session:
        return {m.__name__: session.query(m).count()
                for m in (Organization, User, Collaboration, Node)}


@pytest.mark.parametrize(("password", "rule"), [
    ("password", "uppercase"),
    ("Sh0rt!", "8 characters"),
    ("NoDigits-here!", "digit"),
    ("NoSymbol1234", "special character"),
])
def test_weak_password_is_refused_and_nothing_is_imported(
        app: Any, tmp_path: Path, password: str, rule: str) -> None:
    doc = copy.deepcopy(DOC)
    doc["organizations"][1]["users"][0]["password"] = password
    before = _counts(app)
    with app.v6_state.session_factory() as session:
        with pytest.raises(ValidationError) as info:
            import_file(session, _write(tmp_path, doc), kdf_cost=TEST_COST)
        # refused before the first write: not even flushed into this transaction
        assert not session.new and session.query(Organization).count() == before[
            "Organization"]
        session.commit()
    message = str(info.value)
    assert "organizations[1].users[0]" in message and "'stan'" in message
    assert "'Small Organization'" in message and rule in message
    assert info.value.details["field"] == "organizations[1].users[0].password"
    assert info.value.details["username"] == "stan" and info.value.details["failed"]
    assert _counts(app) == before


def test_password_equal_to_username_is_refused(app: Any, tmp_path: Path) -> None:
    doc = {"organizations": [{"name": "O", "users": [
        {"username": "Long-user-1!", "password": "Long-user-1!"}]}]}
    with app.v6_state.session_factory() as session, pytest.raises(ValidationError) as info:
        import_file(session, _write(tmp_path, doc), kdf_cost=TEST_COST)
    assert "'Long-user-1!'" in str(info.value) and "username" in str(info.value)


def test_the_servers_policy_is_the_one_applied(app: Any, api: Api, tmp_path: Path) -> None:
    strict = PasswordPolicy(min_length=20)
    path = _write(tmp_path, DOC)
    with app.v6_state.session_factory() as session, pytest.raises(ValidationError,
                                                                  match="20 characters"):
        import_file(session, path, kdf_cost=TEST_COST, password_policy=strict)
    lenient = PasswordPolicy(min_length=4, require_upper=False, require_digit=False,
                             require_symbol=False)
    doc = {"organizations": [{"name": "O", "users": [{"username": "u", "password": "abcd"}]}]}
    with app.v6_state.session_factory() as session:
        report = import_file(session, _write(tmp_path, doc), kdf_cost=TEST_COST,
                             password_policy=lenient)
        session.commit()
    assert report.users == ["u"]
    assert api.login("u", "abcd")


def test_failure_late_in_the_file_rolls_everything_back(app: Any, tmp_path: Path) -> None:
    """Organizations and users are flushed before a bad participant is found; the
    caller's rollback (as ``v6 server import`` does) must leave nothing behind."""
    doc = copy.deepcopy(DOC)
    doc["collaborations"][0]["participants"].append({"name": "Ghost"})
    before = _counts(app)
    with app.v6_state.session_factory() as session:
        with pytest.raises(ValidationError, match="Ghost"):
            import_file(session, _write(tmp_path, doc), kdf_cost=TEST_COST)
        session.rollback()
    assert _counts(app) == before
