"""Logins, throttling, MFA, refresh, container tokens and password change (recovery: see
``test_recovery.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from tests.server.conftest import PASSWORD, Api, World, build_app
from v6lib.server.services.logins import BAD_LOGIN
from v6lib.wrappers.token import metadata_from_token


def test_login_answers_tokens_and_urls(world: World) -> None:
    world.user("u1", world.org_a, ["Viewer"])
    body = world.api.ok("POST", "/token/user", json={"username": "u1", "password": PASSWORD},
                        token="")
    assert body["user_url"].startswith("/api/user/")
    assert body["refresh_url"] == "/api/token/refresh"
    refreshed = world.api.ok("POST", "/token/refresh", token=body["refresh_token"])
    assert world.api.ok("GET", "/organization", token=refreshed["access_token"])["total"] >= 1
    # an access token is not a refresh token
    assert world.api.post("/token/refresh", token=body["access_token"]).status_code == 401


def test_wrong_password_and_unknown_user_look_alike(api: Api) -> None:
    a = api.post("/token/user", json={"username": "root", "password": "nope"}, token="")
    b = api.post("/token/user", json={"username": "ghost", "password": "nope"}, token="")
    assert a.status_code == b.status_code == 401
    assert a.json["message"] == b.json["message"]


def test_throttle_after_max_failed_logins(sqlite_url: str) -> None:
    app = build_app(sqlite_url, config={"max_failed_logins": 3, "lockout_minutes": 10})
    try:
        api = Api(app)
        for _ in range(3):
            assert api.post("/token/user", json={"username": "root",
                                                 "password": "bad"}).status_code == 401
        good = {"username": "root", "password": "Root-pass-1234!"}
        throttled = api.post("/token/user", json=good)
        assert throttled.status_code == 429 and throttled.json["code"] == "rate_limited"
        assert int(throttled.headers["Retry-After"]) > 0
        assert "from this address" in throttled.json["message"]
        # the account is not locked: its owner, elsewhere, logs in
        elsewhere = api.client.simulate_post("/api/token/user", json=good,
                                             remote_addr="10.1.2.3")
        assert elsewhere.status_code == 200
    finally:
        app.v6_state.hub.stop()


def test_mfa_enrolment_then_code_required(sqlite_url: str) -> None:
    app = build_app(sqlite_url, config={"mfa_required": True})
    try:
        api = Api(app)
        creds = {"username": "root", "password": "Root-pass-1234!"}
        assert api.post("/token/user", json={**creds, "password": "bad"}).json["code"] == \
            "authentication_error"  # enrolment only after the password was proven
        first = api.post("/token/user", json=creds)
        # vantage6's answer: 200 with the secret and its QR URI, and no token at all
        assert first.status_code == 200 and "access_token" not in first.json
        assert "refresh_token" not in first.json
        secret = first.json["otp_secret"]
        assert first.json["provisioning_uri"].startswith("otpauth://")
        assert first.json["qr_uri"] == first.json["provisioning_uri"]
        # until a code was used once, the same secret is shown again (a lost answer
        # must not lock the person out)
        again = api.post("/token/user", json=creds)
        assert again.status_code == 200 and again.json["otp_secret"] == secret
        assert "access_token" not in again.json
        totp, now = pyotp.TOTP(secret), datetime.now(UTC)
        valid = {totp.at(now + timedelta(seconds=30 * k)) for k in (-2, -1, 0, 1, 2)}
        bad_code = next(c for c in ("000000", "111111", "222222", "333333", "444444",
                                    "555555") if c not in valid)
        wrong = api.post("/token/user", json={**creds, "mfa_code": bad_code})
        assert wrong.status_code == 401 and wrong.json["message"] == BAD_LOGIN
        code = pyotp.TOTP(secret).at(datetime.now(UTC))
        assert api.post("/token/user", json={**creds, "mfa_code": code}).status_code == 200
        replay = api.post("/token/user", json={**creds, "mfa_code": code})
        assert replay.status_code == 401 and replay.json["message"] == BAD_LOGIN
        # enrolled: no code is a failure like any other, and the secret is never shown
        missing = api.post("/token/user", json=creds)
        assert missing.status_code == 401 and missing.json == {
            "code": "authentication_error", "message": BAD_LOGIN, "msg": BAD_LOGIN}
    finally:
        app.v6_state.hub.stop()


class FakeClock:
    """An injectable clock the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clocked(sqlite_url: str) -> Iterator[tuple[Api, FakeClock]]:
    clock = FakeClock()
    app = build_app(sqlite_url, clock=clock)
    yield Api(app), clock
    app.v6_state.hub.stop()


def test_password_change_revokes_old_tokens(clocked: tuple[Api, FakeClock]) -> None:
    api, clock = clocked
    body = api.ok("POST", "/token/user", json={"username": "root",
                                               "password": "Root-pass-1234!"})
    token, refresh = body["access_token"], body["refresh_token"]
    wrong = api.post("/password/change", token=token, json={
        "current_password": "nope", "new_password": "Another-pass-77!"})
    assert wrong.status_code == 401
    clock.advance(seconds=5)
    api.ok("POST", "/password/change", token=token, json={
        "current_password": "Root-pass-1234!", "new_password": "Another-pass-77!"})
    clock.advance(seconds=5)
    assert api.get("/organization", token=token).status_code == 401
    assert api.post("/token/refresh", token=refresh).status_code == 401
    fresh = api.login("root", "Another-pass-77!")
    assert api.get("/organization", token=fresh).status_code == 200
    assert api.post("/token/user", json={"username": "root", "password": "Root-pass-1234!"},
                    token="").status_code == 401


def test_access_token_expires_on_the_server_clock(clocked: tuple[Api, FakeClock]) -> None:
    api, clock = clocked
    token = api.login("root", "Root-pass-1234!")
    clock.advance(minutes=14)
    assert api.get("/organization", token=token).status_code == 200
    clock.advance(minutes=2)
    expired = api.get("/organization", token=token)
    assert expired.status_code == 401 and "expired" in expired.json["message"]


def test_throttle_ends_after_the_wait(sqlite_url: str) -> None:
    clock = FakeClock()
    app = build_app(sqlite_url, clock=clock, config={"max_failed_logins": 2,
                                                     "lockout_minutes": 10})
    try:
        api = Api(app)
        for _ in range(2):
            api.post("/token/user", json={"username": "root", "password": "bad"})
        good = {"username": "root", "password": "Root-pass-1234!"}
        assert api.post("/token/user", json=good).status_code == 429
        clock.advance(minutes=11)
        assert api.post("/token/user", json=good).status_code == 200
    finally:
        app.v6_state.hub.stop()


def test_waits_double_after_the_free_attempts(sqlite_url: str) -> None:
    clock = FakeClock()
    app = build_app(sqlite_url, clock=clock, config={
        "max_failed_logins": 2, "login_backoff_seconds": 5, "lockout_minutes": 1})
    try:
        api = Api(app)
        bad = {"username": "root", "password": "bad"}
        waits = []
        for _ in range(6):
            while (answer := api.post("/token/user", json=bad)).status_code == 429:
                waits.append(int(answer.headers["Retry-After"]))
                clock.advance(seconds=waits[-1])
            assert answer.status_code == 401
        assert waits == [5, 10, 20, 40]  # then capped at lockout_minutes
        assert api.post("/token/user", json=bad).headers["Retry-After"] == "60"
        # a success clears the count for that address
        clock.advance(minutes=1)
        api.login("root", "Root-pass-1234!")
        assert [api.post("/token/user", json=bad).status_code for _ in range(3)] == \
            [401, 401, 429]
    finally:
        app.v6_state.hub.stop()


def test_unknown_and_known_usernames_are_throttled_alike(api: Api) -> None:
    def statuses(username: str) -> list[int]:
        return [api.post("/token/user", json={"username": username, "password": "x"},
                         token="").status_code for _ in range(7)]

    assert statuses("root") == statuses("nobody") == [401] * 5 + [429] * 2


def test_container_token_for_active_run_only(world: World) -> None:
    api = world.api
    task = world.task()
    node = world.node_token("a")
    run = api.ok("GET", "/run", token=node, params={"task_id": task["id"],
                                                    "organization_id": world.org_a})["data"][0]
    pending = api.post("/token/container", token=node, json={"run_id": run["id"],
                                                             "image": "img:1"})
    assert pending.status_code == 409
    api.ok("PATCH", f"/run/{run['id']}", token=node, json={"status": "initializing"})
    wrong_image = api.post("/token/container", token=node, json={"run_id": run["id"],
                                                                 "image": "evil:1"})
    assert wrong_image.status_code == 403
    other_node = world.node_token("b")
    foreign = api.post("/token/container", token=other_node, json={"run_id": run["id"],
                                                                   "image": "img:1"})
    assert foreign.status_code == 403
    user_try = api.post("/token/container", json={"run_id": run["id"], "image": "img:1"})
    assert user_try.status_code == 403
    ok = api.ok("POST", "/token/container", token=node, json={"run_id": run["id"],
                                                              "image": "img:1"})
    container = ok["container_token"]
    assert api.ok("GET", f"/task/{task['id']}", token=container)["id"] == task["id"]
    identity = metadata_from_token(container)  # what the algorithm client reports
    assert (identity.run_id, identity.node_id, identity.image) == (run["id"], world.node_a,
                                                                   "img:1")
    assert identity.study_id is None
    assert [db["label"] for db in identity.databases] == [
        db["label"] for db in task["databases"]]
    # the token dies with its run
    api.ok("PATCH", f"/run/{run['id']}", token=node, json={"status": "active"})
    api.ok("PATCH", f"/run/{run['id']}", token=node, json={"status": "completed",
                                                           "result": "e30="})
    assert api.get(f"/task/{task['id']}", token=container).status_code == 401


def test_password_change_revokes_tokens_of_the_same_second(
        clocked: tuple[Api, FakeClock]) -> None:
    """Revocation must not depend on the clock: the clock does not move at all here."""
    api, _clock = clocked
    first = api.ok("POST", "/token/user", json={"username": "root",
                                                "password": "Root-pass-1234!"})
    second = api.ok("POST", "/token/user", json={"username": "root",
                                                 "password": "Root-pass-1234!"})
    api.ok("POST", "/password/change", token=first["access_token"], json={
        "current_password": "Root-pass-1234!", "new_password": "Another-pass-77!"})
    for body in (first, second):
        assert api.get("/organization", token=body["access_token"]).status_code == 401
        assert api.post("/token/refresh", token=body["refresh_token"]).status_code == 401
    fresh = api.ok("POST", "/token/user", json={"username": "root",
                                                "password": "Another-pass-77!"})
    assert api.get("/organization", token=fresh["access_token"]).status_code == 200
    renewed = api.ok("POST", "/token/refresh", token=fresh["refresh_token"])
    assert api.get("/organization", token=renewed["access_token"]).status_code == 200


def test_login_rehashes_a_password_made_with_another_cost(sqlite_url: str) -> None:
    from sqlalchemy import select

    from v6lib.config import ServerConfig
    from v6lib.server.app import create_app
    from v6lib.server.auth.passwords import KdfCost, needs_rehash
    from v6lib.server.db.engine import make_engine
    from v6lib.server.db.models import User

    first = build_app(sqlite_url)  # root hashed with the cheap test cost
    first.v6_state.hub.stop()
    first.v6_state.engine.dispose()
    raised = KdfCost(time_cost=2, memory_cost_kib=16, parallelism=1)
    config = ServerConfig(uri=sqlite_url, jwt_secret_key="x" * 40)
    app = create_app(config, engine=make_engine(sqlite_url), kdf_cost=raised,
                     announce=lambda result, name: None)
    try:
        def stored() -> str:
            with app.v6_state.session_factory() as session:
                return session.scalars(select(User.password_hash).where(
                    User.username == "root")).one()

        before = stored()
        assert needs_rehash(before, cost=raised)
        Api(app).login("root", "Root-pass-1234!")
        after = stored()
        assert after != before and not needs_rehash(after, cost=raised)
        assert "m=16,t=2,p=1" in after
        Api(app).login("root", "Root-pass-1234!")  # the new hash verifies
        assert stored() == after  # and is not re-made on every login
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()


def test_failed_node_logins_are_throttled_per_selector_and_address(sqlite_url: str) -> None:
    clock = FakeClock()
    app = build_app(sqlite_url, clock=clock, config={"max_failed_logins": 3,
                                                     "lockout_minutes": 10})
    try:
        root = Api(app)
        from tests.server.conftest import make_world
        world = make_world(root.as_(root.login("root", "Root-pass-1234!")))
        anonymous = Api(app)
        selector, _, secret = world.key_a.partition(".")
        guess = f"{selector}.{'A' * len(secret)}"
        assert anonymous.post("/token/node", json={"api_key": world.key_a}).status_code == 200
        for _ in range(3):
            assert anonymous.post("/token/node", json={"api_key": guess}).status_code == 401
        throttled = anonymous.post("/token/node", json={"api_key": world.key_a})
        assert throttled.status_code == 429 and throttled.json["code"] == "rate_limited"
        assert 0 < int(throttled.headers["Retry-After"]) <= 600
        # another node's key from the same address, and the same key elsewhere, work
        assert anonymous.post("/token/node", json={"api_key": world.key_b}).status_code == 200
        other = anonymous.client.simulate_post("/api/token/node", json={"api_key": world.key_a},
                                               remote_addr="10.1.2.3")
        assert other.status_code == 200
        # malformed keys share one bucket per address, apart from every node's
        for _ in range(4):
            anonymous.post("/token/node", json={"api_key": "not-a-key"})
        assert anonymous.post("/token/node", json={"api_key": "junk"}).status_code == 429
        assert anonymous.post("/token/node", json={"api_key": world.key_b}).status_code == 200
        clock.advance(minutes=11)
        assert anonymous.post("/token/node", json={"api_key": world.key_a}).status_code == 200
        # a success forgets earlier failures
        for _ in range(2):
            anonymous.post("/token/node", json={"api_key": guess})
        assert anonymous.post("/token/node", json={"api_key": world.key_a}).status_code == 200
        for _ in range(2):
            anonymous.post("/token/node", json={"api_key": guess})
        assert anonymous.post("/token/node", json={"api_key": world.key_a}).status_code == 200
    finally:
        app.v6_state.hub.stop()


def test_password_change_guesses_are_throttled(world: World) -> None:
    world.user("changer", world.org_a, ["Viewer"])
    token = world.api.login("changer")
    wrong = {"current_password": "guess", "new_password": "Another-pass-77!"}
    statuses = [world.api.post("/password/change", token=token, json=wrong).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # and logging in from the same address is throttled too (same username, same address)
    assert world.api.post("/token/user", json={"username": "changer", "password": PASSWORD},
                          token="").status_code == 429


def test_vantage6_keys_reach_the_login(sqlite_url: str) -> None:
    """A vantage6 file's two_factor_auth, server_name and token_expires_hours take effect."""
    import jwt

    app = build_app(sqlite_url, config={"two_factor_auth": True, "server_name": "Cotopaxi",
                                        "token_expires_hours": 2})
    try:
        first = Api(app).post("/token/user", json={"username": "root",
                                                   "password": "Root-pass-1234!"})
        assert first.status_code == 200 and "access_token" not in first.json
        assert "issuer=Cotopaxi" in first.json["qr_uri"]
        secret = first.json["otp_secret"]
        login = Api(app).post("/token/user", json={
            "username": "root", "password": "Root-pass-1234!",
            "mfa_code": pyotp.TOTP(secret).now()})
        assert login.status_code == 200
        claims = jwt.decode(login.json["access_token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 2 * 3600
    finally:
        app.v6_state.hub.stop()
