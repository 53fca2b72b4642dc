"""Data-owner policies: every refusal and its message, image patterns and digest pinning."""

from __future__ import annotations

import pytest

from v6lib.errors import ConfigurationError
from v6lib.rules.node_policy import NodePolicy, RunRequest, evaluate, image_allowed, split_image

DIGEST = "82becede498899ec668628e7cb0ad87b6e1c371cb8a1e597d83a47fac21d6af3"


def policy(**kw: object) -> NodePolicy:
    base: dict[str, object] = {"node_name": "alpha", "database_labels": frozenset({"default"}),
                               "encryption_enabled": False}
    base.update(kw)
    return NodePolicy(**base)  # type: ignore[arg-type]


def request(**kw: object) -> RunRequest:
    base: dict[str, object] = {"image": "v6-average:latest", "database_labels": ["default"],
                               "collaboration_id": 3, "collaboration_encrypted": False,
                               "init_org_id": 1, "init_user_id": 7}
    base.update(kw)
    return RunRequest(**base)  # type: ignore[arg-type]


def test_allows_a_plain_request() -> None:
    decision = evaluate(policy(), request())
    assert decision.allowed and decision.reason is None


def test_refuses_unconfigured_database_label() -> None:
    decision = evaluate(policy(), request(database_labels=["default", "x"]))
    assert not decision.allowed
    assert decision.reason == "database label 'x' is not configured on node 'alpha'"


def test_refuses_image_not_in_allowed_images() -> None:
    decision = evaluate(policy(allowed_images=(r"harbor\.org/.*",)), request(image="evil:1"))
    assert decision.reason == "image 'evil:1' refused by node 'alpha': not in allowed_images"


def test_refuses_encrypted_collaboration_on_plain_node() -> None:
    decision = evaluate(policy(), request(collaboration_encrypted=True))
    assert decision.reason == ("collaboration 3 is encrypted but node 'alpha' has "
                               "encryption disabled")


def test_refuses_plain_collaboration_on_encrypting_node() -> None:
    decision = evaluate(policy(encryption_enabled=True), request())
    assert decision.reason == ("collaboration 3 is not encrypted but node 'alpha' has "
                               "encryption enabled")


def test_refuses_organization_not_allowed() -> None:
    decision = evaluate(policy(allowed_organizations=frozenset({2})), request(init_org_id=1))
    assert decision.reason == ("organization 1 (the task's initiator) refused by node "
                               "'alpha': not in allowed_organizations")
    assert evaluate(policy(allowed_organizations=frozenset({1})), request()).allowed


def test_refuses_user_not_allowed() -> None:
    decision = evaluate(policy(allowed_users=frozenset({8})), request(init_user_id=7))
    assert decision.reason == ("user 7 (the task's initiator) refused by node 'alpha': "
                               "not in allowed_users")
    assert evaluate(policy(allowed_users=frozenset({7})), request()).allowed


def test_first_refusal_wins_encryption_before_image() -> None:
    decision = evaluate(policy(allowed_images=("nothing",)),
                        request(collaboration_encrypted=True, database_labels=["x"]))
    assert decision.reason is not None and "encrypted" in decision.reason


@pytest.mark.parametrize(
    ("pattern", "image", "allowed"),
    [
        (r"^harbor2\.vantage6\.ai/algorithms/glm", "harbor2.vantage6.ai/algorithms/glm:2.0", True),
        (r"^harbor2\.vantage6\.ai/algorithms/glm", "harbor2.vantage6.ai/algorithms/glmx:2", False),
        (r"^harbor2\.vantage6\.ai/[a-zA-Z]+/[a-zA-Z]+", "harbor2.vantage6.ai/demo/average", True),
        (r"v6-average", "evil.org/v6-average", False),  # full match, not search
        (r"v6-average:1\.0", "v6-average:1.1", False),
        (r"v6-average:1\.0", "v6-average:1.0", True),
        (r"localhost:5000/avg", "localhost:5000/avg:3", True),
    ],
)
def test_image_patterns(pattern: str, image: str, allowed: bool) -> None:
    assert image_allowed(image, [pattern]) is allowed


def test_digest_pinning_requires_exact_digest() -> None:
    pattern = f"^harbor2.vantage6.ai/algorithms/glm@sha256:{DIGEST}"
    good = f"harbor2.vantage6.ai/algorithms/glm@sha256:{DIGEST}"
    assert image_allowed(good, [pattern])
    assert image_allowed(f"harbor2.vantage6.ai/algorithms/glm:1@sha256:{DIGEST}", [pattern])
    assert not image_allowed("harbor2.vantage6.ai/algorithms/glm:latest", [pattern])
    other = DIGEST[:-1] + ("0" if DIGEST[-1] != "0" else "1")
    assert not image_allowed(f"harbor2.vantage6.ai/algorithms/glm@sha256:{other}", [pattern])
    # the digest is compared literally: regex metacharacters in it do not widen the match
    assert not image_allowed(f"harbor2.vantage6.ai/algorithms/glm@sha256:{DIGEST}",
                             ["^harbor2.vantage6.ai/algorithms/glm@sha256:.*"])


def test_no_patterns_allow_everything() -> None:
    assert image_allowed("anything/at:all", [])


def test_split_image() -> None:
    assert split_image("reg:5000/a/b:1.0@sha256:ab") == ("reg:5000/a/b", "1.0", "ab")
    assert split_image("reg:5000/a/b") == ("reg:5000/a/b", None, None)


def test_invalid_pattern_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a valid regular expression"):
        policy(allowed_images=("([",))


@pytest.mark.parametrize(
    ("pattern", "image", "allowed"),
    [
        # regular expressions match from the start: a prefix is enough
        (r"^harbor2\.vantage6\.ai/algorithms/glm", "harbor2.vantage6.ai/algorithms/glm:2", True),
        (r"^harbor2\.vantage6\.ai/algorithms/glm", "harbor2.vantage6.ai/algorithms/glmx:2",
         True),
        (r"harbor2\.vantage6\.ai/algo", "evil.org/harbor2.vantage6.ai/algo:1", False),
        (r"v6-.*", "v6-average:latest", True),
        # plain names are image names: exact, any tag without one, one tag or one digest
        ("harbor2.vantage6.ai/algorithms/glm", "harbor2.vantage6.ai/algorithms/glm:2", True),
        ("harbor2.vantage6.ai/algorithms/glm", "harbor2.vantage6.ai/algorithms/glmx:2", False),
        ("harbor2.vantage6.ai/algorithms/glm", "harbor2Xvantage6.ai/algorithms/glm", False),
        ("v6-average:1.0", "v6-average:1.0", True),
        ("v6-average:1.0", "v6-average:1.1", False),
        ("v6-average:latest", "v6-average", True),
        (f"v6-average@sha256:{DIGEST}", f"v6-average:1@sha256:{DIGEST}", True),
        (f"v6-average@sha256:{DIGEST}", "v6-average:1", False),
        ("localhost:5000/avg", "localhost:5000/avg:3", True),
    ],
)
def test_vantage6_algorithm_patterns(pattern: str, image: str, allowed: bool) -> None:
    assert image_allowed(image, algorithms=[pattern]) is allowed


def test_either_list_allows_and_the_reason_names_both() -> None:
    both = policy(allowed_images=(r"harbor\.org/.*",), allowed_algorithms=("^v6-",))
    assert evaluate(both, request(image="harbor.org/x:1")).allowed
    assert evaluate(both, request(image="v6-average:1")).allowed
    refused = evaluate(both, request(image="evil:1"))
    assert refused.reason == ("image 'evil:1' refused by node 'alpha': not in allowed_images "
                              "nor allowed_algorithms")
    only_v6 = evaluate(policy(allowed_algorithms=("^v6-",)), request(image="evil:1"))
    assert only_v6.reason == "image 'evil:1' refused by node 'alpha': not in allowed_algorithms"


def test_invalid_algorithm_expression_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="allowed_algorithms pattern"):
        policy(allowed_algorithms=("^([",))
    policy(allowed_algorithms=("plain.name",))  # image names are never compiled
