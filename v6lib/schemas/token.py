"""Login, token and password payloads."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from ._base import DbId, InModel, OutModel

__all__ = [
    "ContainerTokenIn",
    "ContainerTokenOut",
    "Message",
    "NodeLogin",
    "NodeTokenOut",
    "PasswordChange",
    "RecoverLost",
    "RecoverMfaReset",
    "RecoverReset",
    "RefreshOut",
    "UserLogin",
    "UserTokenOut",
]


class UserLogin(InModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    mfa_code: str | None = Field(default=None, max_length=10)


class NodeLogin(InModel):
    api_key: str = Field(min_length=1, max_length=500)


class ContainerTokenIn(InModel):
    run_id: DbId
    image: str = Field(min_length=1, max_length=500)


class UserTokenOut(OutModel):
    access_token: str
    refresh_token: str
    user_url: str
    refresh_url: str


class NodeTokenOut(OutModel):
    access_token: str
    refresh_token: str
    node_url: str
    id: int


class ContainerTokenOut(OutModel):
    container_token: str


class RefreshOut(OutModel):
    access_token: str
    refresh_token: str


class PasswordChange(InModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


class RecoverLost(InModel):
    """Give ``username`` or ``email`` (or both)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["username"]}, {"required": ["email"]}]})

    # NOTE: typed ``str`` (not nullable) with a None default, so the schema says
    # "a string when given" and explicit nulls are refused.
    username: str = Field(default=None, min_length=1, max_length=100)  # type: ignore[assignment]
    email: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _one_given(self) -> RecoverLost:
        if not self.username and not self.email:
            raise ValueError("give a username or an email")
        return self


class RecoverReset(InModel):
    """A recovery token and the new password."""

    reset_token: str = Field(min_length=1, max_length=500)
    password: str = Field(min_length=1, max_length=1000)


class RecoverMfaReset(InModel):
    """A two-factor recovery token and the account's current password."""

    reset_token: str = Field(min_length=1, max_length=500)
    password: str = Field(min_length=1, max_length=1000)


class Message(OutModel):
    msg: str
