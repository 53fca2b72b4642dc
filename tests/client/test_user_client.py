"""UserClient: login, automatic refresh on 401 only, whoami, encryption set-up, waiting."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest

from v6lib import errors, serialization
from v6lib.client import Client, RunOutcome
from v6lib.client.user_client import build_base_url
from v6lib.crypto import generate_private_key, public_key_b64, save_private_key


def test_authenticate_sends_credentials_and_uses_bearer(server: Any) -> None:
    client = Client("http://server.test", 7601, session=server.session())
    client.authenticate("alice", "pw", mfa_code=123456)

    login = server.requests_to("/token/user")[0]
    assert login.body == {"username": "alice", "password": "pw", "mfa_code": "123456"}
    assert "Authorization" not in login.headers
    assert client.user_id == 7
    client.organization.get(2)
    assert server.requests_to("/organization/2")[0].headers["Authorization"] == "Bearer access-1"


def test_wrong_password_raises_authentication_error(server: Any) -> None:
    server.on("POST", "/token/user",
              (401, {"code": "authentication_error", "message": "invalid username or password"}))
    client = Client("http://server.test", 7601, session=server.session())
    with pytest.raises(errors.AuthenticationError, match="invalid username or password"):
        client.authenticate("alice", "bad")
    assert len(server.requests_to("/token/refresh")) == 0


def test_mfa_enrolment_says_how_to_continue(server: Any) -> None:
    server.on("POST", "/token/user", {"msg": "set it up", "otp_secret": "SECRET",
                                      "qr_uri": "otpauth://x", "provisioning_uri": "otpauth://x"})
    client = Client("http://server.test", 7601, session=server.session())
    with pytest.raises(errors.MFARequiredError, match="mfa_code") as raised:
        client.authenticate("alice", "pw")
    assert raised.value.details == {"otp_secret": "SECRET", "qr_uri": "otpauth://x",
                                    "provisioning_uri": "otpauth://x"}
    assert client.token is None


def test_refresh_on_401_then_retry_with_new_token(client: Client, server: Any) -> None:
    calls = {"n": 0}

    def org(req: Any) -> Any:
        calls["n"] += 1
        if req.headers.get("Authorization") != "Bearer access-2":
            return 401, {"code": "authentication_error", "message": "token expired"}
        return {"id": 3, "name": "Three"}

    server.on("GET", "/organization/3", org)
    server.on("POST", "/token/refresh", {"access_token": "access-2", "refresh_token": "refresh-2"})

    assert client.organization.get(3)["name"] == "Three"

    refresh = server.requests_to("/token/refresh")
    assert len(refresh) == 1
    assert refresh[0].headers["Authorization"] == "Bearer refresh-1"
    assert calls["n"] == 2
    assert client.token == "access-2" and client.refresh_token == "refresh-2"


def test_no_refresh_on_403(client: Client, server: Any) -> None:
    server.on("GET", "/organization/3",
              (403, {"code": "permission_denied", "message": "you may not view it"}))
    with pytest.raises(errors.PermissionDenied, match="you may not view it"):
        client.organization.get(3)
    assert server.requests_to("/token/refresh") == []


def test_failed_refresh_surfaces_the_original_401(client: Client, server: Any) -> None:
    server.on("GET", "/organization/3",
              (401, {"code": "authentication_error", "message": "token expired"}))
    server.on("POST", "/token/refresh",
              (401, {"code": "authentication_error", "message": "refresh token expired"}))
    with pytest.raises(errors.AuthenticationError, match="token expired"):
        client.organization.get(3)
    assert len(server.requests_to("/token/refresh")) == 1
    assert len(server.requests_to("/organization/3")) == 1


def test_whoami_reads_user_and_organization(client: Client) -> None:
    me = client.whoami
    assert me["user"]["username"] == "researcher"
    assert me["organization"]["name"] == "Org Two"


def test_whoami_before_login_is_an_error(server: Any) -> None:
    client = Client("http://server.test", 7601, session=server.session())
    with pytest.raises(errors.AuthenticationError, match="authenticate"):
        _ = client.whoami


@pytest.mark.parametrize(("url", "port", "path", "expected"), [
    ("http://127.0.0.1", 7601, "/api", "http://127.0.0.1:7601/api"),
    ("https://v6.example.org/", 443, "", "https://v6.example.org:443"),
    ("http://h:5000", 7601, "api", "http://h:5000/api"),
    ("http://h/sub", 80, "/api/", "http://h:80/sub/api"),
    ("http://h", None, "/api", "http://h/api"),
])
def test_build_base_url(url: str, port: int | None, path: str, expected: str) -> None:
    assert build_base_url(url, port, path) == expected


def test_build_base_url_rejects_missing_scheme() -> None:
    with pytest.raises(errors.ValidationError, match="http://"):
        build_base_url("127.0.0.1", 7601)


def test_setup_encryption_warns_on_key_mismatch(client: Client, server: Any, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    own, other = generate_private_key(2048), generate_private_key(2048)
    save_private_key(own, tmp_path / "key.pem")
    server.on("GET", "/organization/2", {"id": 2, "name": "Org Two",
                                         "public_key": public_key_b64(other)})
    with caplog.at_level(logging.WARNING, logger="v6lib.client.user_client"):
        client.setup_encryption(tmp_path / "key.pem")
    assert "does not match" in caplog.text
    assert client.codec.private_key is not None
    client.setup_encryption(None)
    assert client.codec.private_key is None


def test_setup_encryption_missing_file_is_a_configuration_error(client: Client,
                                                               tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="not found"):
        client.setup_encryption(tmp_path / "absent.pem")


def _b64(value: Any) -> str:
    return base64.b64encode(serialization.dumps(value)).decode()


def _task_routes(server: Any, runs: list[dict[str, Any]]) -> None:
    task = {"id": 5, "uid": "u-5", "collaboration_id": 1, "image": "i", "init_org_id": 2,
            "status": "completed"}
    server.on("GET", "/task/5", task)
    server.on("GET", "/task/5/wait", task)
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": False})
    server.on("GET", "/run", lambda req: {"data": runs, "links": {}, "total": len(runs),
                                          "page": 1, "per_page": 100})


def test_wait_for_results_returns_results_in_run_order(client: Client, server: Any) -> None:
    _task_routes(server, [
        {"id": 12, "task_id": 5,
         "organization_id": 3, "status": "completed", "result": _b64({"n": 2})},
        {"id": 11, "task_id": 5,
         "organization_id": 2, "status": "completed", "result": _b64({"n": 1})},
    ])
    assert client.wait_for_results(5) == [{"n": 1}, {"n": 2}]
    assert server.requests_to("/run")[0].params["task_id"] == "5"
    assert server.requests_to("/task/5") == []  # the wait's answer says all that is needed


def test_wait_for_results_hands_each_runs_progress_to_on_progress(
        client: Client, server: Any) -> None:
    _task_routes(server, [
        {"id": 11, "task_id": 5, "organization_id": 2, "status": "completed",
         "result": _b64(1), "progress": 1.0, "progress_message": "done"},
        {"id": 12, "task_id": 5, "organization_id": 3, "status": "completed",
         "result": _b64(2), "progress": None, "progress_message": None},
    ])
    seen: list[dict[str, Any]] = []
    assert client.wait_for_results(5, on_progress=seen.append) == [1, 2]
    assert [(r["organization_id"], r["progress"], r["progress_message"]) for r in seen] == \
        [(2, 1.0, "done")]


def test_wait_for_results_names_failed_organization(client: Client, server: Any) -> None:
    _task_routes(server, [
        {"id": 11, "task_id": 5,
         "organization_id": 2, "status": "completed", "result": _b64(1.5)},
        {"id": 12, "task_id": 5,
         "organization_id": 3, "status": "failed", "result": None,
         "log": "line 1\nTraceback ...\nKeyError: 'age'", "reason": "exit code 1"},
    ])
    server.on("GET", "/organization/3", {"id": 3, "name": "Hospital C"})
    with pytest.raises(errors.AlgorithmError) as info:
        client.wait_for_results(5)
    message = str(info.value)
    assert "organization 3 (Hospital C)" in message
    assert "'failed'" in message and "KeyError: 'age'" in message and "exit code 1" in message
    assert info.value.details["failed"] == [{"run_id": 12, "organization_id": 3,
                                             "status": "failed", "reason": "exit code 1"}]


def test_wait_for_results_can_return_outcomes(client: Client, server: Any) -> None:
    _task_routes(server, [
        {"id": 11, "task_id": 5,
         "organization_id": 2, "status": "completed", "result": _b64([1, 2])},
        {"id": 12, "task_id": 5,
         "organization_id": 3, "status": "crashed", "result": None, "log": "boom"},
    ])
    outcomes = client.wait_for_results(5, raise_on_failure=False)
    assert [type(o) for o in outcomes] == [RunOutcome, RunOutcome]
    assert outcomes[0].ok and outcomes[0].result == [1, 2]
    assert not outcomes[1].ok and outcomes[1].status.value == "crashed"
    assert outcomes[1].log == "boom"


def test_verbose_shows_client_messages(server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    client = Client("http://server.test", 7601, session=server.session(), verbose=True)
    try:
        client.authenticate("alice", "pw")
        assert "authenticated at http://server.test:7601/api as alice" in capsys.readouterr().err
    finally:
        for name in ("v6lib.client", "urllib3"):
            logger = logging.getLogger(name)
            logger.handlers = [h for h in logger.handlers if not getattr(h, "_v6_verbose", 0)]
            logger.setLevel(logging.NOTSET)
