"""vantage6 server keys: honoured (translated), ignored with a warning, or refused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from v6lib.config import load_server_config
from v6lib.config.vantage6 import SERVER_RULES
from v6lib.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def load(tmp_path: Path, text: str, name: str = "server.yaml"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_server_config(path)


def test_two_factor_auth_turns_mfa_on(tmp_path: Path) -> None:
    assert load(tmp_path, "two_factor_auth: true\n").mfa_required is True
    assert load(tmp_path, "two_factor_auth: false\n").mfa_required is False
    with pytest.raises(ConfigurationError, match=r"server\.yaml: two_factor_auth: given "
                                                 "together with mfa_required"):
        load(tmp_path, "two_factor_auth: true\nmfa_required: false\n")


def test_token_lifetimes_in_hours(tmp_path: Path) -> None:
    config = load(tmp_path, "token_expires_hours: 6\nrefresh_token_expires_hours: 48\n")
    assert (config.access_token_minutes, config.refresh_token_hours) == (360, 48)
    assert load(tmp_path, "token_expires_hours: 0.5\n").access_token_minutes == 30
    assert load(tmp_path, "refresh_token_expires_hours: 1.5\n").refresh_token_hours == 2
    with pytest.raises(ConfigurationError, match="token_expires_hours: expected a positive"):
        load(tmp_path, "token_expires_hours: -1\n")


def test_vantage6_login_and_mail_limits(tmp_path: Path) -> None:
    config = load(tmp_path, "password_policy:\n  max_failed_attempts: 3\n"
                            "  inactivation_minutes: 30\n  between_user_emails_minutes: 60\n"
                            "  min_length: 10\n")
    assert (config.max_failed_logins, config.lockout_minutes) == (3, 30)
    assert (config.recovery_requests_per_account, config.recovery_window_minutes) == (1, 60)
    assert config.password_policy.min_length == 10


def test_renamed_keys(tmp_path: Path) -> None:
    config = load(tmp_path, "cors_allowed_origins: [https://ui.example]\nserver_name: Petronas\n")
    assert config.cors_origins == ["https://ui.example"]
    assert config.server_name == "Petronas"


@pytest.mark.parametrize("key", sorted(k for k, r in SERVER_RULES.items()
                                       if r.action == "ignore"))
def test_meaningless_keys_are_ignored_out_loud(tmp_path: Path, key: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="v6lib.config"):
        load(tmp_path, f"{key}: {{enabled: true}}\n")
    assert f"server.yaml: {key}: ignored: " in caplog.text


@pytest.mark.parametrize(("text", "named"), [
    ("jwt_token_expiration: 3600\n", "jwt_token_expiration: vantage6 4.x does not read"),
    ("runs_data_cleanup_days: 30\n", "runs_data_cleanup_days: v6lib does not delete"),
    ("runs_data_cleanup_include_input: true\n", "runs_data_cleanup_include_input:"),
    ("large_result_store: {type: azure}\n", "large_result_store: v6lib keeps results"),
])
def test_keys_that_would_change_meaning_are_refused(tmp_path: Path, text: str,
                                                    named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load(tmp_path, text)
    assert f"server.yaml: {named}" in info.value.message


def test_switched_off_keys_pass_without_a_word(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="v6lib.config"):
        load(tmp_path, "runs_data_cleanup_days: 0\nallow_drop_all: false\n")
    assert caplog.text == ""


def test_every_vantage6_server_key_is_known(tmp_path: Path) -> None:
    """The keys of vantage6 4.15.2's documented server file: none is an unknown key."""
    keys = ["description", "server_name", "ip", "port", "api_path", "server_url", "uri",
            "allow_drop_all", "two_factor_auth", "jwt_secret_key", "logging", "debug",
            "smtp", "support_email", "email_token_validity_minutes", "token_expires_hours",
            "refresh_token_expires_hours", "runs_data_cleanup_days",
            "runs_data_cleanup_include_input", "rabbitmq", "vpn_server", "images", "ui",
            "password_policy", "cors_allowed_origins", "dev", "prometheus",
            "large_result_store", "algorithm_stores"]
    from v6lib.config import ServerConfig

    handled = set(SERVER_RULES) | set(ServerConfig.model_fields) | {
        "ip", "two_factor_auth", "token_expires_hours", "refresh_token_expires_hours",
        "cors_allowed_origins"}
    assert not [k for k in keys if k not in handled]
