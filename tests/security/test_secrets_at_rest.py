"""Secrets at rest, on real files: a server started with the documented defaults keeps
its token-signing key out of the database, writes its files 0600, never logs a recovery
token, mails working single-use tokens, and moves the key of an earlier version out of
the database without ending the sessions signed with it.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from falcon import testing
from sqlalchemy import select, text

from tests.mail_server import MailSink, smtp_sink_fixture  # noqa: F401  (fixture)
from v6lib.cli.node import node as node_cli
from v6lib.cli.server import server as server_cli
from v6lib.config import ServerConfig
from v6lib.server.app import create_app
from v6lib.server.auth.passwords import TEST_COST
from v6lib.server.auth.tokens import TokenService
from v6lib.server.db.engine import make_engine
from v6lib.server.db.migrate import upgrade_database
from v6lib.server.db.models import ServerMeta, User
from v6lib.server.runner import configure_logging
from v6lib.server.signing_key import LEGACY_ROW

ROOT_PASSWORD = "Root-pass-1234!"
API = "/api"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@dataclass
class Started:
    app: Any
    client: testing.TestClient
    config: ServerConfig
    database: Path
    log_file: Path

    def login(self, username: str = "root", password: str = ROOT_PASSWORD) -> dict[str, Any]:
        answer = self.client.simulate_post(f"{API}/token/user", json={
            "username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return dict(answer.json)

    def meta_rows(self) -> dict[str, str]:
        with self.app.v6_state.session_factory() as session:
            return {row.key: row.value for row in session.scalars(select(ServerMeta))}

    def database_bytes(self) -> bytes:
        """The database file and its WAL/SHM companions, as stored on disk."""
        return b"".join(p.read_bytes() for p in self.database.parent.glob(
            f"{self.database.name}*"))


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG directories in tmp: the defaults (database, key file) land there."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if name.startswith("V6_SERVER_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture
def start(data_home: Path) -> Iterator[Any]:
    """Start servers with the default config (no jwt secret, no uri) plus ``extra``."""
    started: list[Started] = []
    v6_logger = logging.getLogger("v6lib")
    handlers_before, level_before = list(v6_logger.handlers), v6_logger.level

    def _start(**extra: Any) -> Started:
        log_file = data_home / "logs" / "server.log"
        config = ServerConfig(name="probe", root_password=ROOT_PASSWORD,
                              logging={"level": "DEBUG", "file": str(log_file),
                                       "use_console": False}, **extra)
        configure_logging(config)
        app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None)
        assert str(config.uri).startswith("sqlite:///")
        server = Started(app, testing.TestClient(app), config,
                         Path(str(config.uri).removeprefix("sqlite:///")), log_file)
        started.append(server)
        return server

    yield _start
    for server in started:
        server.app.v6_state.hub.stop()
        if server.app.v6_state.mailer is not None:
            server.app.v6_state.mailer.stop()
        server.app.v6_state.engine.dispose()
    for handler in v6_logger.handlers:
        if handler not in handlers_before:
            v6_logger.removeHandler(handler)
            handler.close()
    v6_logger.setLevel(level_before)


def _create_organization(server: Started, token: str, name: str) -> int:
    return server.client.simulate_post(f"{API}/organization", json={"name": name},
                                       headers={"Authorization": f"Bearer {token}"}).status_code


# ---------------------------------------------------------------- the signing key
def test_default_start_keeps_the_signing_key_in_a_private_file(start: Any) -> None:
    server = start()
    key_file = server.config.jwt_secret_path
    assert key_file == server.config.data_dir / "jwt_secret.key"
    key = key_file.read_text().strip()
    assert len(key) >= 32
    assert _mode(key_file) == 0o600
    assert _mode(key_file.parent) == 0o700
    rows = server.meta_rows()
    assert LEGACY_ROW not in rows
    assert all(key not in value for value in rows.values()), rows.keys()
    assert key.encode() not in server.database_bytes()
    # the key file's key is the one in use: a token signed with it is accepted
    assert _create_organization(server, server.login()["access_token"], "real") == 201


def test_a_token_forged_with_anything_in_the_database_is_refused(start: Any) -> None:
    server = start()
    genuine = server.login()["access_token"]
    claims = jwt.decode(genuine, options={"verify_signature": False})
    candidates = list(server.meta_rows().values())
    with server.app.v6_state.session_factory() as session:
        candidates += [value for value in session.execute(text(
            "SELECT password_hash FROM user")).scalars() if value]
    assert candidates
    for secret in candidates:
        forged = jwt.encode(claims, secret, algorithm="HS256")
        assert _create_organization(server, forged, f"forged {len(secret)}") == 401
    key = server.config.jwt_secret_path.read_text().strip()
    control = jwt.encode(claims, key, algorithm="HS256")
    assert _create_organization(server, control, "control") == 201


# ---------------------------------------------------------------- file modes
def test_database_and_log_files_are_private(start: Any) -> None:
    server = start()
    server.login()  # writes: the WAL file exists now
    files = [server.database, *server.database.parent.glob(f"{server.database.name}-*"),
             server.log_file]
    assert any(p.name.endswith("-wal") for p in files), files
    for path in files:
        assert _mode(path) == 0o600, path
    assert _mode(server.database.parent) == 0o700
    assert _mode(server.log_file.parent) == 0o700
    assert server.log_file.read_text(), "the log should have lines"


def test_configs_written_by_the_cli_are_private(data_home: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(server_cli, ["new", "--name", "probe"])
    assert done.exit_code == 0, done.output
    server_config = data_home / "config" / "v6lib" / "server" / "probe.yaml"
    assert _mode(server_config) == 0o600
    assert _mode(server_config.parent) == 0o700
    node_config = data_home / "node.yaml"
    node_config.write_text("old: 1\n")
    node_config.chmod(0o644)
    done = runner.invoke(node_cli, ["new", "--name", "n1", "--api-key", "secret-api-key",
                                    "--server-url", "http://localhost", "--config",
                                    str(node_config), "--force"])
    assert done.exit_code == 0, done.output
    assert _mode(node_config) == 0o600
    assert "secret-api-key" in node_config.read_text()


# ---------------------------------------------------------------- recovery tokens
def _token_from(message: Any) -> str:
    found = re.search(r"^ +([A-Za-z0-9_-]{40,})\s*$", message.get_content(), re.M)
    assert found, message.get_content()
    return found.group(1)


def _add_user(server: Started, username: str, email: str) -> None:
    token = server.login()["access_token"]
    answer = server.client.simulate_post(
        f"{API}/user", headers={"Authorization": f"Bearer {token}"},
        json={"username": username, "password": "Users-pass-123!", "email": email})
    assert answer.status_code == 201, answer.text


def _smtp(port: int) -> dict[str, Any]:
    return {"smtp": {"server": "127.0.0.1", "port": port, "tls": "none",
                     "email_from": "v6@server.test"}}


def test_recovery_for_root_never_logs_the_token(start: Any, smtp_sink: tuple[MailSink, int],
                                                caplog: pytest.LogCaptureFixture) -> None:
    sink, port = smtp_sink
    server = start(**_smtp(port))
    with server.app.v6_state.session_factory() as session:
        root = session.scalars(select(User).where(User.username == "root")).one()
        root.email = "root@site.test"
        session.commit()
    with caplog.at_level(logging.DEBUG):
        answer = server.client.simulate_post(f"{API}/recover/lost", json={"username": "root"})
        assert answer.status_code == 200
        [mail] = sink.wait_for(1)
        server.app.v6_state.mailer.stop()
    token = _token_from(mail)
    assert mail["To"] == "root@site.test" and mail["From"] == "v6@server.test"
    ours = [r for r in caplog.records if r.name != "mail.log"]  # not the SMTP test server's
    assert any("token issued for user" in r.getMessage() for r in ours)
    assert all(token not in r.getMessage() for r in ours)
    assert token not in server.log_file.read_text()
    assert token.encode() not in server.database_bytes()


def test_without_smtp_recovery_sends_nothing_and_says_so(
        start: Any, caplog: pytest.LogCaptureFixture) -> None:
    server = start()
    with caplog.at_level(logging.DEBUG, logger="v6lib"):
        answer = server.client.simulate_post(f"{API}/recover/lost", json={"username": "root"})
    unknown = server.client.simulate_post(f"{API}/recover/lost", json={"username": "nobody"})
    assert answer.status_code == unknown.status_code == 200
    assert answer.json == unknown.json
    assert "recovery mail is not configured" in caplog.text
    with server.app.v6_state.session_factory() as session:
        root = session.scalars(select(User).where(User.username == "root")).one()
        assert root.reset_token_hash is None  # no token nobody can receive


def test_mailed_token_works_once_and_ends_old_sessions(
        start: Any, smtp_sink: tuple[MailSink, int]) -> None:
    sink, port = smtp_sink
    server = start(**_smtp(port))
    _add_user(server, "lost", "lost@site.test")
    old_session = server.login("lost", "Users-pass-123!")["access_token"]
    server.client.simulate_post(f"{API}/recover/lost", json={"email": "lost@site.test"})
    [mail] = sink.wait_for(1)
    assert mail["To"] == "lost@site.test"
    token = _token_from(mail)
    reset = server.client.simulate_post(f"{API}/recover/reset", json={
        "reset_token": token, "password": "Brand-new-pass-1!"})
    assert reset.status_code == 200, reset.text
    assert server.login("lost", "Brand-new-pass-1!")
    assert _create_organization(server, old_session, "with an old session") == 401
    again = server.client.simulate_post(f"{API}/recover/reset", json={
        "reset_token": token, "password": "Other-new-pass-2!"})
    assert again.status_code == 401


def test_a_newer_request_voids_the_older_token(start: Any,
                                               smtp_sink: tuple[MailSink, int]) -> None:
    sink, port = smtp_sink
    server = start(**_smtp(port))
    _add_user(server, "lost", "lost@site.test")
    for _ in range(2):
        server.client.simulate_post(f"{API}/recover/lost", json={"username": "lost"})
    first, second = (_token_from(m) for m in sink.wait_for(2))
    assert first != second
    older = server.client.simulate_post(f"{API}/recover/reset", json={
        "reset_token": first, "password": "Brand-new-pass-1!"})
    assert older.status_code == 401
    newer = server.client.simulate_post(f"{API}/recover/reset", json={
        "reset_token": second, "password": "Brand-new-pass-1!"})
    assert newer.status_code == 200, newer.text


# ---------------------------------------------------------------- upgrade
def test_upgrade_moves_the_old_database_secret_to_the_key_file(start: Any,
                                                               data_home: Path) -> None:
    # Prepare: a database as an earlier version left it, with the key in server_meta
    legacy = "L3gacy-secret-" + "x" * 50
    first = start(jwt_secret_key=legacy)  # seeds root; earlier versions signed with the row
    old_tokens = first.login()
    first.app.v6_state.hub.stop()
    first.app.v6_state.engine.dispose()
    engine = make_engine(str(first.config.uri))
    upgrade_database(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM server_meta"))
        connection.execute(text("INSERT INTO server_meta (key, value) VALUES (:k, :v)"),
                           {"k": LEGACY_ROW, "v": legacy})
    engine.dispose()
    # Execute: start with the default configuration (no jwt_secret_key)
    upgraded = start()
    # Assert
    assert LEGACY_ROW not in upgraded.meta_rows()
    assert upgraded.config.jwt_secret_path.read_text().strip() == legacy
    assert _mode(upgraded.config.jwt_secret_path) == 0o600
    assert legacy.encode() not in upgraded.database_bytes()
    assert _create_organization(upgraded, old_tokens["access_token"], "after upgrade") == 201
    refreshed = upgraded.client.simulate_post(
        f"{API}/token/refresh", headers={"Authorization": f"Bearer {old_tokens['refresh_token']}"})
    assert refreshed.status_code == 200
    # a token signed before the upgrade with the legacy secret verifies directly too
    TokenService(legacy).verify(old_tokens["access_token"], {"user"})
