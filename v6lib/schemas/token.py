"""Login, token and password payloads."""

from __future__ import annotations

from pydantic import ConfigDict, Field, RootModel, field_validator, model_validator

from ._base import DbId, InModel, OutModel

__all__ = [
    "ContainerTokenIn",
    "ContainerTokenOut",
    "Message",
    "MfaEnrolmentOut",
    "NodeLogin",
    "NodeTokenOut",
    "PasswordChange",
    "RecoverLost",
    "RecoverMfaReset",
    "RecoverReset",
    "RefreshOut",
    "UserLogin",
    "UserLoginOut",
    "UserTokenOut",
]


#: TOTP codes have six digits; an integer code lost its leading zeros on the way
TOTP_DIGITS = 6


class UserLogin(InModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    mfa_code: str | None = Field(default=None, max_length=10)

    @field_validator("mfa_code", mode="before")
    @classmethod
    def _code_as_digits(cls, value: object) -> object:
        """vantage6's client sends the code as an integer when given one: ``123456``, or
        ``12345`` for ``"012345"``. Integers become their zero-padded digits; anything
        else (also ``True``, or an integer of more digits) is validated as it came."""
        if isinstance(value, int) and not isinstance(value, bool) \
                and 0 <= value < 10 ** TOTP_DIGITS:
            return f"{value:0{TOTP_DIGITS}d}"
        return value


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


class MfaEnrolmentOut(OutModel):
    """The answer to the right password of an account that must set up two-factor
    authentication: the TOTP secret, and no token. vantage6's clients recognise it by
    ``qr_uri`` (200, as vantage6 answers), show the QR code and log in again with a code;
    ``provisioning_uri`` is the same URI under v6lib's name."""

    msg: str
    otp_secret: str
    qr_uri: str
    provisioning_uri: str


class UserLoginOut(RootModel[UserTokenOut | MfaEnrolmentOut]):
    """What ``POST /token/user`` answers: tokens, or (enrolment) the TOTP secret."""


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
