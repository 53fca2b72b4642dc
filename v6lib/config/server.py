"""Server configuration model: binding, database URL, tokens, login policy and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator

from v6lib.config.common import LoggingConfig, StrictModel, normalize_api_path, user_data_dir
from v6lib.config.vantage6 import translate_server

__all__ = ["MAX_SECRET_LENGTH", "PasswordPolicy", "ServerConfig", "SmtpConfig"]

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
    """The mail server that delivers account-recovery tokens (``/recover/*``).

    ``tls``: ``starttls`` (submission, port 587), ``implicit`` (SMTPS, port 465) or
    ``none`` (a relay on the same host or network only). ``email_from`` may also be
    written ``from``; it defaults to ``username`` when that is an address.
    """

    server: str
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    email_from: str | None = None
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    ca_file: Path | None = None
    timeout_seconds: float = Field(default=30, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _from_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "from" in data:
            if "email_from" in data:
                raise ValueError("give email_from or from, not both")
            data = {**data, "email_from": data["from"]}
            del data["from"]
        return data


class ServerConfig(StrictModel):
    name: str = "server"
    description: str = ""
    # the name people know the server by (vantage6's key): recovery mails and the
    # issuer in authenticator apps; default: name in mails, "v6lib" in apps
    server_name: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=7601, ge=1, le=65535)
    api_path: str = "/api"
    uri: str | None = None
    # NOTE: without jwt_secret_key the key lives in jwt_secret_file (default: in the
    # data directory), never in the database; see v6lib.server.signing_key.
    jwt_secret_key: SecretStr | None = None
    jwt_secret_file: Path | None = None
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
    # how `v6 server start` serves: "event-loop" holds waiting long-polls on an event
    # loop (no thread each; threads only run requests), "threads" holds each in a thread
    serving: Literal["event-loop", "threads"] = "event-loop"
    # event-loop serving: long-polls one worker holds at once (more are answered at once)
    max_waiting_long_polls: int = Field(default=20_000, ge=1)
    logging: LoggingConfig = LoggingConfig()
    cors_origins: list[str] = []
    # reverse proxies whose X-Forwarded-For header is believed (addresses or CIDR
    # networks); empty: the TCP peer address is the client, whatever the headers say
    trusted_proxies: list[IPvAnyNetwork] = []
    smtp: SmtpConfig | None = None
    support_email: str | None = None
    # how long a recovery token (mailed, or from `v6 server reset-password`) is valid
    email_token_validity_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    # /recover/*/lost requests per requested username or email, and per client address,
    # within recovery_window_minutes; more are answered 429
    recovery_requests_per_account: int = Field(default=3, ge=1)
    recovery_requests_per_address: int = Field(default=20, ge=1)
    recovery_window_minutes: int = Field(default=15, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _vantage6_forms(cls, data: Any) -> Any:
        return translate_server(data) if isinstance(data, dict) else data

    @field_validator("api_path")
    @classmethod
    def _api_path(cls, value: str) -> str:
        return normalize_api_path(value)

    @model_validator(mode="after")
    def _default_uri(self) -> ServerConfig:
        if self.uri is None:
            object.__setattr__(self, "uri", f"sqlite:///{self.data_dir / 'server.sqlite'}")
        return self

    @property
    def data_dir(self) -> Path:
        """This server's own files: default database, signing key, pid file."""
        return user_data_dir("server", self.name)

    @property
    def jwt_secret_path(self) -> Path:
        """Where the signing key file is (used when ``jwt_secret_key`` is not set)."""
        return self.jwt_secret_file or self.data_dir / "jwt_secret.key"
