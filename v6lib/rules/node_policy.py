"""Data-owner policy checks: may this node run this run? Pure functions, no IO.

Every refusal happens *before* any container starts, and its reason is what the
researcher reads in the run's ``reason`` field, so each message names the node, the
offending value and the setting that refused it.

Image patterns (``allowed_images``) are Python regular expressions matched in full.
A pattern matches when it fully matches either the whole image reference
(``registry/name:tag``) or the reference without its tag and digest, so
``^harbor2.vantage6.ai/algorithms/glm`` allows every build of that image (as the
vantage6 documentation describes) while ``.*glm:1\\.0`` allows only one tag. A pattern
that pins a digest (``name@sha256:<hex>``) allows only an image carrying exactly that
digest; the digest is compared literally, never as a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from v6lib.errors import ConfigurationError

__all__ = [
    "NodePolicy",
    "PolicyDecision",
    "RunRequest",
    "evaluate",
    "image_allowed",
    "split_image",
]

_DIGEST_SEP = "@sha256:"


@dataclass(frozen=True)
class PolicyDecision:
    """The outcome of a policy check; ``reason`` says why a run was refused."""

    allowed: bool
    reason: str | None = None

    @classmethod
    def allow(cls) -> PolicyDecision:
        return cls(True, None)

    @classmethod
    def refuse(cls, reason: str) -> PolicyDecision:
        return cls(False, reason)


@dataclass(frozen=True)
class NodePolicy:
    """What the data owner configured; empty allow-lists mean "no restriction"."""

    node_name: str
    database_labels: frozenset[str]
    encryption_enabled: bool
    allowed_images: tuple[str, ...] = ()
    allowed_organizations: frozenset[int] = field(default_factory=frozenset)
    allowed_users: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for pattern in self.allowed_images:
            name_part = pattern.split(_DIGEST_SEP, 1)[0]
            try:
                re.compile(name_part)
            except re.error as exc:
                raise ConfigurationError(
                    f"allowed_images pattern {pattern!r} of node '{self.node_name}' is not "
                    f"a valid regular expression: {exc}"
                ) from exc


@dataclass(frozen=True)
class RunRequest:
    """The facts of a run that the policy looks at (from the run, its task and collaboration)."""

    image: str
    database_labels: Sequence[str]
    collaboration_id: int
    collaboration_encrypted: bool
    init_org_id: int | None = None
    init_user_id: int | None = None


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """Split ``registry/name:tag@sha256:hex`` into (repository, tag, digest hex)."""
    rest, digest = image, None
    if _DIGEST_SEP in rest:
        rest, digest = rest.split(_DIGEST_SEP, 1)
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:  # a colon before the last slash is a registry port
        rest, tag = rest[:colon], rest[colon + 1 :]
    return rest, tag, digest


def _pattern_matches(pattern: str, image: str) -> bool:
    repository, tag, digest = split_image(image)
    without_digest = f"{repository}:{tag}" if tag else repository
    if _DIGEST_SEP in pattern:
        name_pattern, pinned = pattern.split(_DIGEST_SEP, 1)
        if digest is None or digest.lower() != pinned.strip().lower():
            return False
        candidates = (without_digest, repository)
    else:
        name_pattern = pattern
        candidates = (image, without_digest, repository)
    regex = re.compile(name_pattern)
    return any(regex.fullmatch(c) for c in candidates)


def image_allowed(image: str, patterns: Iterable[str]) -> bool:
    """Whether ``image`` is allowed by ``patterns`` (no patterns: every image is allowed)."""
    patterns = list(patterns)
    if not patterns:
        return True
    return any(_pattern_matches(p, image) for p in patterns)


def evaluate(policy: NodePolicy, request: RunRequest) -> PolicyDecision:
    """Decide whether ``request`` may run on the node; the first refusal wins."""
    node = policy.node_name
    if request.collaboration_encrypted and not policy.encryption_enabled:
        return PolicyDecision.refuse(
            f"collaboration {request.collaboration_id} is encrypted but node '{node}' "
            "has encryption disabled"
        )
    if not request.collaboration_encrypted and policy.encryption_enabled:
        return PolicyDecision.refuse(
            f"collaboration {request.collaboration_id} is not encrypted but node '{node}' "
            "has encryption enabled"
        )
    if not image_allowed(request.image, policy.allowed_images):
        return PolicyDecision.refuse(
            f"image '{request.image}' refused by node '{node}': not in allowed_images"
        )
    if policy.allowed_organizations and request.init_org_id not in policy.allowed_organizations:
        return PolicyDecision.refuse(
            f"organization {request.init_org_id} (the task's initiator) refused by node "
            f"'{node}': not in allowed_organizations"
        )
    if policy.allowed_users and request.init_user_id not in policy.allowed_users:
        return PolicyDecision.refuse(
            f"user {request.init_user_id} (the task's initiator) refused by node "
            f"'{node}': not in allowed_users"
        )
    for label in request.database_labels:
        if label not in policy.database_labels:
            return PolicyDecision.refuse(
                f"database label '{label}' is not configured on node '{node}'"
            )
    return PolicyDecision.allow()
