"""Server configuration model: binding, database URL, tokens, login policy and limits."""

from __future__ import annotations

from typing import Any

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator

from v6lib.config.common import LoggingConfig, StrictModel, normalize_api_path, user_data_dir

__all__ = ["MAX_SECRET_LENGTH", "PasswordPolicy", "ServerConfig", "SmtpConfig"]

_VANTAGE6_SERVER = {"type", "allow_drop_all", "email_token_validity_minutes", "support_email",
                    "vpn_server", "rabbitmq_uri", "rabbitmq", "server_url", "ui_url", "dev",
                    "algorithm_stores", "runs_data_cleanup_days", "two_factor_auth",
                    "jwt_token_expiration", "prometheus"}

#: Longest secret accepted for hashing; guards the KDF against absurd request bodies.
MAX_SECRET_LENGTH = 4096


class PasswordPolicy(StrictModel):
    """What a new password must satisfy; the one definition, used by the server's
    ``check_password_policy`` (``v6lib.server.auth.passwords``). The defaults are
    vantage6's documented policy: at least 8 characters with an uppercase letter, a
    lowercase letter, a digit and a special character."""

    min_length: int = Field(default=8, ge=1)
    max_length: int = Field(default=1024, ge=1, le=MAX_SECRET_LENGTH)
    require_letter: bool = True
    require_upper: bool = True
    require_lower: bool = True
    require_digit: bool = True
    require_symbol: bool = True
    forbid_username: bool = True


class SmtpConfig(StrictModel):
    server: str
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None


class ServerConfig(StrictModel):
    name: str = "server"
    description: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=7601, ge=1, le=65535)
    api_path: str = "/api"
    uri: str | None = None
    jwt_secret_key: SecretStr | None = None
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_hours: int = Field(default=24, ge=1)
    container_token_hours: int = Field(default=24, ge=1)
    password_policy: PasswordPolicy = PasswordPolicy()
    # login throttling per (account, client address): this many failed attempts go
    # through at once, then each further one waits login_backoff_seconds, doubling up
    # to lockout_minutes (0 turns throttling off); a success starts afresh
    max_failed_logins: int = Field(default=5, ge=1)
    login_backoff_seconds: float = Field(default=2, gt=0, le=3600)
    lockout_minutes: int = Field(default=15, ge=0)
    mfa_required: bool = False
    root_username: str = "root"
    root_password: SecretStr | None = None
    max_request_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    # raw run results (PUT /run/{id}/result) are streamed, so they get their own limit
    max_result_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1024)
    workers: int = Field(default=2, ge=1)
    threads: int = Field(default=8, ge=1)
    # long-polls (GET /event, GET /task/{id}/wait) one user, node or container may hold
    # at once per worker; all of them together hold at most three quarters of threads
    max_long_polls_per_caller: int = Field(default=2, ge=1)
    logging: LoggingConfig = LoggingConfig()
    cors_origins: list[str] = []
    # reverse proxies whose X-Forwarded-For header is believed (addresses or CIDR
    # networks); empty: the TCP peer address is the client, whatever the headers say
    trusted_proxies: list[IPvAnyNetwork] = []
    smtp: SmtpConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _vantage6_forms(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if k not in _VANTAGE6_SERVER}
        if "ip" in data:
            if "host" in data:
                raise ValueError("give host or ip (vantage6 name), not both")
            data["host"] = data.pop("ip")
        return data

    @field_validator("api_path")
    @classmethod
    def _api_path(cls, value: str) -> str:
        return normalize_api_path(value)

    @model_validator(mode="after")
    def _default_uri(self) -> ServerConfig:
        if self.uri is None:
            path = user_data_dir("server", self.name) / "server.sqlite"
            object.__setattr__(self, "uri", f"sqlite:///{path}")
        return self
