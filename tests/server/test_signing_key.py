"""Where the signing key comes from: config, key file, or moved out of the database."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from v6lib.config import ServerConfig, load_server_config
from v6lib.errors import ConfigurationError
from v6lib.server.auth.passwords import TEST_COST
from v6lib.server.db.engine import make_engine, make_session_factory
from v6lib.server.db.migrate import upgrade_database
from v6lib.server.db.models import ServerMeta
from v6lib.server.signing_key import CHECK_ROW, LEGACY_ROW, rotate_key_file, signing_key


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade_database(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def _config(tmp_path: Path, **extra: object) -> ServerConfig:
    return ServerConfig(jwt_secret_file=tmp_path / "keys" / "jwt.key", **extra)  # type: ignore[arg-type]


def _key(session: Session, config: ServerConfig) -> str:
    key = signing_key(session, config, kdf_cost=TEST_COST)
    session.commit()
    return key


def test_the_key_file_is_made_once_and_read_after(session: Session, tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = _key(session, config)
    assert config.jwt_secret_path.read_text() == first + "\n"
    assert stat.S_IMODE(config.jwt_secret_path.stat().st_mode) == 0o600
    assert _key(session, config) == first
    assert session.get(ServerMeta, CHECK_ROW).value.startswith("$argon2")


def test_jwt_secret_key_wins_and_the_unused_old_row_goes(session: Session,
                                                         tmp_path: Path) -> None:
    session.add(ServerMeta(key=LEGACY_ROW, value="never-used-" + "y" * 40))
    session.commit()
    config = _config(tmp_path, jwt_secret_key="c" * 40)
    assert _key(session, config) == "c" * 40
    assert session.get(ServerMeta, LEGACY_ROW) is None
    assert not config.jwt_secret_path.exists()


def test_a_fresh_key_against_a_used_database_is_refused(session: Session,
                                                        tmp_path: Path) -> None:
    _key(session, _config(tmp_path / "machine-a"))
    other = _config(tmp_path / "machine-b")
    with pytest.raises(ConfigurationError, match="copy the key file"):
        _key(session, other)
    assert not other.jwt_secret_path.exists()  # the useless new key is not left behind


def test_a_replaced_key_is_taken_with_a_warning(session: Session, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    config = _config(tmp_path)
    _key(session, config)
    config.jwt_secret_path.write_text("r" * 64)
    with caplog.at_level(logging.WARNING, logger="v6lib.server.signing_key"):
        assert _key(session, config) == "r" * 64
    assert "differs from the one this database was used with" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="v6lib.server.signing_key"):
        _key(session, config)
    assert caplog.text == ""  # recorded: the next start is quiet


def test_a_short_or_shared_key_file(session: Session, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    config = _config(tmp_path)
    config.jwt_secret_path.parent.mkdir()
    config.jwt_secret_path.write_text("short")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        _key(session, config)
    config.jwt_secret_path.write_text("w" * 40)
    config.jwt_secret_path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="v6lib.server.signing_key"):
        _key(session, config)
    assert "readable by other users" in caplog.text


def test_rotation_writes_a_new_key_and_records_it(session: Session, tmp_path: Path) -> None:
    config = _config(tmp_path)
    old = _key(session, config)
    rotate_key_file(session, config, kdf_cost=TEST_COST)
    session.commit()
    new = config.jwt_secret_path.read_text().strip()
    assert new != old and _key(session, config) == new
    with pytest.raises(ConfigurationError, match="jwt_secret_key"):
        rotate_key_file(session, _config(tmp_path, jwt_secret_key="k" * 40))


def test_key_file_setting_from_file_and_environment(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "etc" / "server.yaml"
    path.parent.mkdir()
    path.write_text("jwt_secret_file: secrets/jwt.key\n")
    assert load_server_config(path).jwt_secret_path == tmp_path / "etc" / "secrets" / "jwt.key"
    monkeypatch.setenv("V6_SERVER_JWT_SECRET_FILE", "/run/secrets/v6-jwt")
    assert load_server_config(path).jwt_secret_path == Path("/run/secrets/v6-jwt")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert ServerConfig(name="x").jwt_secret_path == \
        tmp_path / "data" / "v6lib" / "server" / "x" / "jwt_secret.key"
