"""Issue and verify the server's JWTs (HS256) for users, nodes and algorithm containers.

Time comes from an injected clock so expiry is testable without sleeping; pyjwt checks
the signature and claim presence, this module checks the times against that clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import jwt

from v6lib.errors import AuthenticationError, ConfigurationError, ValidationError
from v6lib.rules.container_identity import container_identity, matches_claims

__all__ = ["CONTAINER_CLAIMS", "MIN_SECRET_BYTES", "TOKEN_KINDS", "TokenKind", "TokenService"]

TokenKind = Literal["user", "node", "container"]
TOKEN_KINDS: frozenset[str] = frozenset(get_args(TokenKind))

#: Claims every container token carries: they scope what the algorithm may touch.
CONTAINER_CLAIMS = (
    "run_id",
    "task_id",
    "job_id",
    "collaboration_id",
    "organization_id",
    "node_id",
    "image",
)
#: HS256 keys shorter than the hash output are weak (RFC 7518 section 3.2).
MIN_SECRET_BYTES = 32

_ALGORITHM = "HS256"
_REQUIRED = ["iss", "sub", "kind", "type", "iat", "nbf", "exp", "jti"]
_RESERVED = frozenset(_REQUIRED)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TokenService:
    """Signs and checks tokens with one shared secret.

    Args:
        secret: HMAC key, at least 32 bytes (every server instance must share it).
        clock: returns the current aware UTC time; injected for tests.
        access_minutes: lifetime of access tokens.
        refresh_hours: lifetime of refresh tokens.
        issuer: ``iss`` claim written and required on verification.
        leeway_seconds: tolerated clock skew between server instances.
    """

    def __init__(
        self,
        secret: bytes | str,
        *,
        clock: Callable[[], datetime] = _utcnow,
        access_minutes: float = 15,
        refresh_hours: float = 24,
        issuer: str = "v6lib",
        leeway_seconds: float = 0,
    ) -> None:
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"the token secret must be at least {MIN_SECRET_BYTES} bytes long "
                f"(got {len(key)}); set a long random jwt_secret in the server config"
            )
        self._key = key
        self._clock = clock
        self.access_ttl = timedelta(minutes=access_minutes)
        self.refresh_ttl = timedelta(hours=refresh_hours)
        self.issuer = issuer
        self._leeway = timedelta(seconds=leeway_seconds)

    # -- issuing -----------------------------------------------------------------------

    def issue_access(
        self,
        kind: TokenKind,
        subject_id: int,
        claims: Mapping[str, Any] | None = None,
        ttl: timedelta | None = None,
    ) -> str:
        """A signed access token for ``kind`` ``subject_id`` with extra ``claims``.

        Container tokens must carry every claim in ``CONTAINER_CLAIMS``.

        Raises:
            ValidationError: unknown kind, reserved claim overridden, container claims
                missing, or a non-positive ``ttl``.
        """
        extra = dict(claims or {})
        clash = sorted(_RESERVED & extra.keys())
        if clash:
            raise ValidationError(f"claims {clash} are reserved and set by the token service")
        if kind == "container":
            missing = [name for name in CONTAINER_CLAIMS if extra.get(name) is None]
            if missing:
                raise ValidationError(f"a container token needs the claims {missing}")
            if extra["run_id"] != subject_id:
                raise ValidationError("a container token's subject is its run")
        return self._encode(kind, subject_id, "access", ttl or self.access_ttl, extra)

    def issue_refresh(self, kind: TokenKind, subject_id: int,
                      claims: Mapping[str, Any] | None = None) -> str:
        """A refresh token: accepted only by the refresh endpoint, never as access.

        Raises:
            ValidationError: containers get no refresh tokens (their token dies with the
                run), or a reserved claim is overridden.
        """
        if kind == "container":
            raise ValidationError("container tokens cannot be refreshed")
        extra = dict(claims or {})
        clash = sorted(_RESERVED & extra.keys())
        if clash:
            raise ValidationError(f"claims {clash} are reserved and set by the token service")
        return self._encode(kind, subject_id, "refresh", self.refresh_ttl, extra)

    def _encode(
        self,
        kind: str,
        subject_id: int,
        token_type: str,
        ttl: timedelta,
        extra: dict[str, Any],
    ) -> str:
        if kind not in TOKEN_KINDS:
            raise ValidationError(f"unknown token kind {kind!r}; use one of {sorted(TOKEN_KINDS)}")
        if isinstance(subject_id, bool) or not isinstance(subject_id, int):
            raise ValidationError(f"subject_id must be an integer, got {subject_id!r}")
        if ttl <= timedelta(0):
            raise ValidationError("token lifetime must be positive")
        now = self._clock()
        # NOTE: a container token's subject is vantage6's identity object (what
        # vantage6's algorithm client reads); the subject id is then its run id.
        subject: Any = container_identity(extra) if kind == "container" else str(subject_id)
        payload = {
            **extra,
            "iss": self.issuer,
            "sub": subject,
            "kind": kind,
            "type": token_type,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._key, algorithm=_ALGORITHM)

    # -- verifying ---------------------------------------------------------------------

    def verify(
        self, token: str, kinds: set[str] | frozenset[str], *, refresh: bool = False
    ) -> dict:
        """The token's claims, after checking signature, issuer, kind, type and times.

        The result holds every claim plus ``subject_id`` (``sub`` as an int; for a
        container token, whose ``sub`` is vantage6's identity object, its ``run_id``).

        Raises:
            AuthenticationError: with a message naming the problem ("token expired",
                "token signature invalid", "token is a refresh token; use an access token", ...).
        """
        payload = self._decode(token)
        self._check_times(payload)
        expected = "refresh" if refresh else "access"
        if payload["type"] != expected:
            raise AuthenticationError(
                f"token is a {payload['type']} token; use an {expected} token"
                if expected == "access"
                else f"token is an {payload['type']} token; use a {expected} token"
            )
        if payload["kind"] not in kinds:
            raise AuthenticationError(
                f"a {payload['kind']} token is not accepted here; "
                f"this needs a {' or '.join(sorted(kinds))} token"
            )
        payload["subject_id"] = self._subject_id(payload)
        return payload

    @staticmethod
    def _subject_id(payload: dict) -> int:
        subject = payload["sub"]
        if payload["kind"] == "container":
            if not matches_claims(subject, payload):
                raise AuthenticationError("container token subject does not match its claims")
            subject = payload.get("run_id")
        if isinstance(subject, bool) or not isinstance(subject, int | str):
            raise AuthenticationError("token subject is not an id")
        try:
            return int(subject)
        except ValueError:
            raise AuthenticationError("token subject is not an id") from None

    def _decode(self, token: str) -> dict:
        if not isinstance(token, str) or not token:
            raise AuthenticationError("token missing")
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=self.issuer,
                options={
                    "require": _REQUIRED,
                    # a container's ``sub`` is an object; every ``sub`` is checked in
                    # _subject_id instead
                    "verify_sub": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise AuthenticationError("token signature invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"token lacks the required claim {exc.claim!r}") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("token was issued by another server") from None
        except jwt.InvalidAlgorithmError:
            raise AuthenticationError("token algorithm not accepted") from None
        except jwt.InvalidTokenError:
            raise AuthenticationError("token malformed") from None

    def _check_times(self, payload: dict) -> None:
        now = self._clock()
        try:
            exp = datetime.fromtimestamp(payload["exp"], UTC)
            nbf = datetime.fromtimestamp(payload["nbf"], UTC)
            iat = datetime.fromtimestamp(payload["iat"], UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise AuthenticationError("token malformed: bad time claims") from None
        if now >= exp + self._leeway:
            raise AuthenticationError("token expired")
        if now + self._leeway < nbf or now + self._leeway < iat:
            raise AuthenticationError("token not valid yet")
