"""``v6 server`` commands through click's runner (no real gunicorn here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from v6lib.cli.server import server
from v6lib.server.runner import gunicorn_options


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def test_new_then_list(env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(server, ["new", "--name", "alpha", "--port", "7777"])
    assert result.exit_code == 0, result.output
    written = env / "config" / "v6lib" / "server" / "alpha.yaml"
    assert yaml.safe_load(written.read_text())["port"] == 7777
    again = runner.invoke(server, ["new", "--name", "alpha"])
    assert again.exit_code != 0 and "--force" in again.output
    listed = runner.invoke(server, ["list"])
    assert "alpha" in listed.output


def test_import_command(env: Path) -> None:
    runner = CliRunner()
    db = env / "srv.sqlite"
    runner.invoke(server, ["new", "--name", "beta", "--uri", f"sqlite:///{db}"])
    doc = env / "import.yaml"
    doc.write_text(yaml.safe_dump({
        "organizations": [{"name": "A", "users": [{"username": "a",
                                                    "password": "Strong-pass-1!"}]}],
        "collaborations": [{"name": "C", "participants": [{"name": "A"}]}]}))
    result = runner.invoke(server, ["import", str(doc), "--config", "beta"])
    assert result.exit_code == 0, result.output
    assert "organizations: 1, users: 1, collaborations: 1, new nodes: 1" in result.output
    assert "api key for node 'A - C'" in result.output
    bad = env / "bad.yaml"
    bad.write_text("collaborations: [{name: C, participants: [{name: Ghost}]}]")
    failed = runner.invoke(server, ["import", str(bad), "--config", "beta"])
    assert failed.exit_code == 65 and "Ghost" in failed.output
    weak = env / "weak.yaml"
    weak.write_text("organizations: [{name: B, users: [{username: b, password: pw}]}]")
    refused = runner.invoke(server, ["import", str(weak), "--config", "beta"])
    assert refused.exit_code == 65 and "organizations[0].users[0]" in refused.output
    assert "'b'" in refused.output and "8 characters" in refused.output


def test_stop_without_server_fails_clearly(env: Path) -> None:
    runner = CliRunner()
    runner.invoke(server, ["new", "--name", "gamma"])
    result = runner.invoke(server, ["stop", "gamma"])
    assert result.exit_code != 0 and "not running" in result.output


def test_unknown_config_fails_clearly(env: Path) -> None:
    result = CliRunner().invoke(server, ["start", "nope"])
    assert result.exit_code == 78 and "not found" in result.output


def test_gunicorn_options_outlive_long_polls() -> None:
    from v6lib.config import ServerConfig

    options = gunicorn_options(ServerConfig(port=1234), workers=3, threads=4)
    assert options["bind"] == "127.0.0.1:1234" and options["workers"] == 3
    assert options["worker_class"] == "v6lib.server.worker.LoopWorker"  # polls hold no thread
    assert options["timeout"] > 60
    threaded = gunicorn_options(ServerConfig(port=1234, serving="threads"), workers=3, threads=4)
    assert threaded["worker_class"] == "v6lib.server.worker.ThreadWorker"


def _serve(path: Path) -> Any:
    """The app an operator's `v6 server start` would build from the file at ``path``."""
    from falcon import testing

    from v6lib.config import load_server_config
    from v6lib.server.app import create_app
    from v6lib.server.auth.passwords import TEST_COST

    app = create_app(load_server_config(path), kdf_cost=TEST_COST, announce=lambda *_: None)
    return app, testing.TestClient(app)


def _stop(app: Any) -> None:
    app.v6_state.hub.stop()
    app.v6_state.engine.dispose()


def test_reset_password_prints_a_one_time_token(env: Path) -> None:
    runner = CliRunner()
    runner.invoke(server, ["new", "--name", "delta", "--uri", f"sqlite:///{env / 'd.sqlite'}"])
    doc = env / "import.yaml"
    doc.write_text(yaml.safe_dump({"organizations": [{"name": "A", "users": [
        {"username": "ann", "password": "Strong-pass-1!"}]}]}))
    assert runner.invoke(server, ["import", str(doc), "--config", "delta"]).exit_code == 0
    done = runner.invoke(server, ["reset-password", "ann", "--config", "delta"])
    assert done.exit_code == 0, done.output
    token = done.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and "/api/recover/reset" in done.stderr
    app, client = _serve(env / "config" / "v6lib" / "server" / "delta.yaml")
    try:
        body = {"reset_token": token, "password": "Renewed-pass-2!"}
        assert client.simulate_post("/api/recover/reset", json=body).status_code == 200
        assert client.simulate_post("/api/recover/reset", json=body).status_code == 401
        login = client.simulate_post("/api/token/user", json={"username": "ann",
                                                              "password": "Renewed-pass-2!"})
        assert login.status_code == 200
    finally:
        _stop(app)
    unknown = runner.invoke(server, ["reset-password", "ghost", "--config", "delta"])
    assert unknown.exit_code == 66 and "ghost" in unknown.output
    no_mfa = runner.invoke(server, ["reset-password", "ann", "--config", "delta",
                                    "--two-factor"])
    assert no_mfa.exit_code != 0 and "no second factor" in no_mfa.output


def test_rotate_key_ends_every_session(env: Path) -> None:
    runner = CliRunner()
    runner.invoke(server, ["new", "--name", "eps", "--uri", f"sqlite:///{env / 'e.sqlite'}"])
    path = env / "config" / "v6lib" / "server" / "eps.yaml"
    path.write_text(path.read_text() + "root_password: Root-pass-1234!\n")
    creds = {"username": "root", "password": "Root-pass-1234!"}
    app, client = _serve(path)
    key_file = env / "data" / "v6lib" / "server" / "eps" / "jwt_secret.key"
    old_key = key_file.read_text()
    token = client.simulate_post("/api/token/user", json=creds).json["access_token"]
    _stop(app)
    done = runner.invoke(server, ["rotate-key", "eps"])
    assert done.exit_code == 0, done.output
    assert str(key_file) in done.output and key_file.read_text() != old_key
    app, client = _serve(path)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.simulate_get("/api/organization", headers=headers).status_code == 401
        assert client.simulate_post("/api/token/user", json=creds).status_code == 200
    finally:
        _stop(app)
    path.write_text(path.read_text() + f"jwt_secret_key: {'z' * 40}\n")
    refused = runner.invoke(server, ["rotate-key", "eps"])
    assert refused.exit_code == 78 and "jwt_secret_key" in refused.output
