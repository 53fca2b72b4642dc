"""Bad requests of every kind get a 4xx JSON body with a stable code, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.server.conftest import Api, World, build_app
from v6lib.server.auth.tokens import TokenService


def test_malformed_json_is_400(api: Api) -> None:
    result = api.post("/organization", body=b"{not json", headers={
        "Content-Type": "application/json"})
    assert result.status_code == 400
    assert result.json["code"] == "validation_error"
    assert "not valid JSON" in result.json["message"]


def test_body_must_be_an_object(api: Api) -> None:
    result = api.post("/organization", json=[1, 2])
    assert result.status_code == 400 and "JSON object" in result.json["message"]


def test_unknown_field_is_named(api: Api) -> None:
    result = api.post("/organization", json={"name": "x", "colour": "red"})
    assert result.status_code == 400
    assert "colour" in result.json["message"]
    assert result.json["details"]["field"] == "colour"


def test_wrong_type_is_named(api: Api) -> None:
    result = api.post("/collaboration", json={"name": "c", "encrypted": "maybe"})
    assert result.status_code == 400
    assert result.json["details"]["field"] == "encrypted"


def test_missing_field_is_named(api: Api) -> None:
    result = api.post("/organization", json={})
    assert result.status_code == 400 and "'name' is required" in result.json["message"]


def test_bad_query_parameter_is_400(api: Api) -> None:
    result = api.get("/task", params={"per_page": "lots"})
    assert result.status_code == 400 and result.json["details"]["field"] == "per_page"
    assert api.get("/task", params={"per_page": "5000"}).status_code == 400
    assert api.get("/task", params={"bogus": "1"}).status_code == 400


def test_non_integer_path_id_is_404_json(api: Api) -> None:
    result = api.get("/task/abc")
    assert result.status_code == 404 and result.json["code"] == "not_found"


def test_unknown_path_is_404_json(api: Api) -> None:
    result = api.get("/nothing/here")
    assert result.status_code == 404 and result.json["code"] == "not_found"


def test_unsupported_method_is_405_json(api: Api) -> None:
    result = api.call("PUT", "/organization")
    assert result.status_code == 405
    assert result.json["code"] == "method_not_allowed"
    assert "PUT" in result.json["message"]


def test_oversized_body_is_413(sqlite_url: str) -> None:
    app = build_app(sqlite_url, config={"max_request_bytes": 2048})
    try:
        api = Api(app)
        result = api.post("/token/user", body=b"{" + b" " * 4096 + b"}",
                          headers={"Content-Type": "application/json"})
        assert result.status_code == 413
        assert result.json["code"] == "payload_too_large"
    finally:
        app.v6_state.hub.stop()


def test_missing_token_is_401(app: Any) -> None:
    result = Api(app).get("/organization")
    assert result.status_code == 401 and result.json["code"] == "authentication_error"


@pytest.mark.parametrize("token", ["garbage", "a.b.c",
                                   jwt.encode({"sub": "1"}, "k" * 40, algorithm="HS256")])
def test_forged_tokens_are_401(app: Any, token: str) -> None:
    result = Api(app).get("/organization", token=token)
    assert result.status_code == 401 and result.json["code"] == "authentication_error"


def test_token_signed_with_another_secret_is_401(app: Any) -> None:
    other = TokenService("y" * 40).issue_access("user", 1)
    result = Api(app).get("/organization", token=other)
    assert result.status_code == 401 and "signature" in result.json["message"]


def test_expired_token_is_401(app: Any) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    old = TokenService("x" * 40, clock=lambda: past).issue_access("user", 1)
    result = Api(app).get("/organization", token=old)
    assert result.status_code == 401 and "expired" in result.json["message"]


def test_refresh_token_is_not_an_access_token(app: Any) -> None:
    api = Api(app)
    body = api.ok("POST", "/token/user", json={"username": "root",
                                               "password": "Root-pass-1234!"})
    result = api.get("/organization", token=body["refresh_token"])
    assert result.status_code == 401


def test_unexpected_error_is_generic_500_with_request_id(api: Api,
                                                         monkeypatch: Any) -> None:
    from v6lib.server.resources.organizations import OrganizationCollection

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail: password=hunter2")

    monkeypatch.setattr(OrganizationCollection, "list_rows", staticmethod(boom))
    result = api.get("/organization", headers={"X-Request-ID": "req-42"})
    assert result.status_code == 500
    assert result.json["code"] == "internal_error"
    assert result.json["request_id"] == "req-42"
    assert "hunter2" not in result.text


def test_duplicate_name_is_409(api: Api) -> None:
    api.ok("POST", "/organization", 201, json={"name": "dup"})
    result = api.post("/organization", json={"name": "dup"})
    assert result.status_code == 409 and result.json["code"] == "conflict"


def test_invalid_base64_input_is_400(world: World) -> None:
    result = world.api.post("/task", json={
        "collaboration_id": world.collab, "image": "i",
        "organizations": [{"id": world.org_a, "input": "%%%not base64"}]})
    assert result.status_code == 400
    assert result.json["details"]["field"] == "organizations.0.input"


def test_options_preflight_needs_no_token(app: Any) -> None:
    result = Api(app).call("OPTIONS", "/task")
    assert result.status_code == 200
    assert "POST" in result.headers["Allow"]


@pytest.mark.postgres
def test_a_database_outage_is_a_503_that_says_so_and_passes() -> None:
    """While PostgreSQL refuses connections the API answers 503 ``database_unavailable``
    with Retry-After (not a 500 asking for a request id), and recovers by itself."""
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.postgres import base_postgres_url, drop_database, fresh_postgres_url
    from tests.server.conftest import ROOT_PASSWORD, Api, build_app

    url = fresh_postgres_url()
    app = build_app(url)
    admin = base_postgres_url().set(drivername="postgresql").render_as_string(
        hide_password=False)
    name = make_url(url).database

    def allow(flag: bool) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(flag).lower()}')
            if not flag:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))

    try:
        api = Api(app)
        api = api.as_(api.login("root", ROOT_PASSWORD))
        assert api.get("/organization").status_code == 200
        allow(False)
        answer = api.get("/organization")
        assert answer.status_code == 503, answer.text
        assert answer.json["code"] == "database_unavailable"
        assert "database" in answer.json["message"] and "request_id" not in answer.json
        assert answer.headers["Retry-After"] == "5"
        allow(True)
        assert api.get("/organization").status_code == 200
    finally:
        allow(True)
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()
        drop_database(url)
