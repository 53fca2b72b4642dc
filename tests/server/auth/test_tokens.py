"""JWT issuing and verification with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from v6lib.errors import AuthenticationError, ConfigurationError, ValidationError
from v6lib.server.auth.tokens import CONTAINER_CLAIMS, TokenService

SECRET = "s" * 32
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(clock: Clock) -> TokenService:
    return TokenService(SECRET, clock=clock, access_minutes=15, refresh_hours=24)


CONTAINER = {
    "run_id": 7,
    "task_id": 3,
    "job_id": 3,
    "collaboration_id": 1,
    "organization_id": 2,
    "node_id": 4,
    "image": "v6-average:latest",
}


def test_access_roundtrip(service):
    token = service.issue_access("user", 42, {"org": 5})
    claims = service.verify(token, {"user"})
    assert claims["subject_id"] == 42
    assert claims["sub"] == "42"
    assert claims["kind"] == "user"
    assert claims["type"] == "access"
    assert claims["org"] == 5
    assert claims["iss"] == "v6lib"
    assert len(claims["jti"]) == 32


def test_tokens_are_unique(service):
    assert service.issue_access("node", 1) != service.issue_access("node", 1)


def test_expiry_uses_the_injected_clock(service, clock):
    token = service.issue_access("user", 1)
    clock.now = START + timedelta(minutes=14, seconds=59)
    assert service.verify(token, {"user"})["subject_id"] == 1
    clock.now = START + timedelta(minutes=15)
    with pytest.raises(AuthenticationError, match="token expired"):
        service.verify(token, {"user"})


def test_custom_ttl(service, clock):
    token = service.issue_access("user", 1, ttl=timedelta(seconds=10))
    clock.now = START + timedelta(seconds=11)
    with pytest.raises(AuthenticationError, match="expired"):
        service.verify(token, {"user"})


def test_token_from_the_future_is_not_valid_yet(service, clock):
    clock.now = START + timedelta(minutes=5)
    token = service.issue_access("user", 1)
    clock.now = START
    with pytest.raises(AuthenticationError, match="not valid yet"):
        service.verify(token, {"user"})


def test_leeway_tolerates_small_skew(clock):
    lenient = TokenService(SECRET, clock=clock, leeway_seconds=30)
    clock.now = START + timedelta(seconds=20)
    token = lenient.issue_access("user", 1)
    clock.now = START
    assert lenient.verify(token, {"user"})["subject_id"] == 1


def test_forged_signature_is_rejected(service, clock):
    other = TokenService("o" * 32, clock=clock)
    token = other.issue_access("user", 1)
    with pytest.raises(AuthenticationError, match="token signature invalid"):
        service.verify(token, {"user"})


def test_tampered_payload_is_rejected(service):
    token = service.issue_access("user", 1)
    header, _payload, signature = token.split(".")
    forged_payload = jwt.encode({"sub": "2"}, SECRET, algorithm="HS256").split(".")[1]
    with pytest.raises(AuthenticationError, match="signature invalid"):
        service.verify(f"{header}.{forged_payload}.{signature}", {"user"})


def test_alg_none_is_rejected(service):
    now = int(START.timestamp())
    claims = {
        "iss": "v6lib",
        "sub": "1",
        "kind": "user",
        "type": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": "x",
    }
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    with pytest.raises(AuthenticationError):
        service.verify(unsigned, {"user"})


def test_missing_claim_is_named(service):
    now = int(START.timestamp())
    token = jwt.encode(
        {
            "iss": "v6lib",
            "sub": "1",
            "kind": "user",
            "type": "access",
            "iat": now,
            "nbf": now,
            "exp": now + 60,
        },
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(AuthenticationError, match="'jti'"):
        service.verify(token, {"user"})


def test_other_issuer_is_rejected(clock, service):
    foreign = TokenService(SECRET, clock=clock, issuer="elsewhere")
    with pytest.raises(AuthenticationError, match="another server"):
        service.verify(foreign.issue_access("user", 1), {"user"})


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", None])
def test_garbage_is_an_authentication_error(service, garbage):
    with pytest.raises(AuthenticationError):
        service.verify(garbage, {"user"})


def test_wrong_kind_is_rejected(service):
    token = service.issue_access("node", 9)
    with pytest.raises(AuthenticationError, match="a node token is not accepted here"):
        service.verify(token, {"user"})
    assert service.verify(token, {"user", "node"})["kind"] == "node"


def test_refresh_token_is_not_an_access_token(service):
    refresh = service.issue_refresh("user", 1)
    with pytest.raises(AuthenticationError, match="token is a refresh token; use an access token"):
        service.verify(refresh, {"user"})
    assert service.verify(refresh, {"user"}, refresh=True)["type"] == "refresh"


def test_access_token_is_not_a_refresh_token(service):
    access = service.issue_access("user", 1)
    with pytest.raises(AuthenticationError, match="token is an access token; use a refresh token"):
        service.verify(access, {"user"}, refresh=True)


def test_refresh_lifetime(service, clock):
    refresh = service.issue_refresh("node", 1)
    clock.now = START + timedelta(hours=23)
    assert service.verify(refresh, {"node"}, refresh=True)["subject_id"] == 1
    clock.now = START + timedelta(hours=24)
    with pytest.raises(AuthenticationError, match="expired"):
        service.verify(refresh, {"node"}, refresh=True)


def test_container_token_carries_its_scope(service):
    token = service.issue_access("container", 7, CONTAINER)
    claims = service.verify(token, {"container"})
    for name in CONTAINER_CLAIMS:
        assert claims[name] == CONTAINER[name]


def test_container_token_requires_every_scope_claim(service):
    partial = {k: v for k, v in CONTAINER.items() if k != "image"}
    with pytest.raises(ValidationError, match="image"):
        service.issue_access("container", 7, partial)


def test_container_tokens_cannot_be_refreshed(service):
    with pytest.raises(ValidationError, match="cannot be refreshed"):
        service.issue_refresh("container", 7)


def test_reserved_claims_cannot_be_overridden(service):
    with pytest.raises(ValidationError, match="reserved"):
        service.issue_access("user", 1, {"exp": 0})


def test_unknown_kind_and_bad_subject(service):
    with pytest.raises(ValidationError, match="unknown token kind"):
        service.issue_access("robot", 1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="integer"):
        service.issue_access("user", "1")  # type: ignore[arg-type]


def test_short_secret_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        TokenService("short")


def test_bytes_secret_is_accepted(clock):
    service = TokenService(b"k" * 32, clock=clock)
    assert service.verify(service.issue_access("user", 3), {"user"})["subject_id"] == 3


def _signed(claims: dict) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_container_token_subject_is_vantage6s_identity_object(service):
    token = service.issue_access("container", 7, {**CONTAINER, "study_id": 5,
                                                  "databases": [{"label": "default"}]})
    # read as vantage6's algorithm tools read it: unverified, the identity in "sub"
    identity = jwt.decode(token, options={"verify_signature": False})["sub"]
    assert identity == {"client_type": "container", "store_id": None, "run_id": 7,
                        "task_id": 3, "job_id": 3, "node_id": 4, "organization_id": 2,
                        "collaboration_id": 1, "study_id": 5, "image": "v6-average:latest",
                        "databases": [{"label": "default"}]}
    assert service.verify(token, {"container"})["subject_id"] == 7


def test_container_token_subject_must_be_its_run(service):
    with pytest.raises(ValidationError, match="subject is its run"):
        service.issue_access("container", 8, CONTAINER)


@pytest.mark.parametrize("field, value", [("task_id", 4), ("image", "other:latest"),
                                          ("collaboration_id", 9),
                                          ("databases", [{"label": "secret"}])])
def test_signed_container_token_whose_identity_differs_from_its_claims_is_refused(
        service, field, value):
    claims = jwt.decode(service.issue_access("container", 7, CONTAINER),
                        options={"verify_signature": False})
    claims["sub"] = {**claims["sub"], field: value}
    with pytest.raises(AuthenticationError, match="does not match its claims"):
        service.verify(_signed(claims), {"container"})


@pytest.mark.parametrize("subject", [{"id": 1}, ["1"], 1.5, True, "one"])
def test_user_token_subject_must_be_an_id(service, subject):
    claims = jwt.decode(service.issue_access("user", 1), options={"verify_signature": False})
    with pytest.raises(AuthenticationError, match="subject is not an id"):
        service.verify(_signed({**claims, "sub": subject}), {"user"})
