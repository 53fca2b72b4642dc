"""Data-owner policy checks: may this node run this run? Pure functions, no IO.

Every refusal happens *before* any container starts, and its reason is what the
researcher reads in the run's ``reason`` field, so each message names the node, the
offending value and the setting that refused it.

Two kinds of image patterns, one matching function (:func:`image_allowed`, used by the
node and the mock alike); an image is allowed when any pattern of either list allows it,
and every image is allowed when both lists are empty.

``allowed_images`` (v6lib's own key) are Python regular expressions matched in full.
A pattern matches when it fully matches either the whole image reference
(``registry/name:tag``) or the reference without its tag and digest, so
``^harbor2.vantage6.ai/algorithms/glm`` allows every build of that image while
``.*glm:1\\.0`` allows only one tag. A pattern that pins a digest
(``name@sha256:<hex>``) allows only an image carrying exactly that digest; the digest is
compared literally, never as a regular expression.

``allowed_algorithms`` (vantage6's key) keep vantage6's meaning. A pattern that contains
a regular-expression character (one of ``*?+^$[](){}|\\``) is a regular expression
matched from the start of the image reference: a prefix match, so ``^harbor2\\.org/algo``
also allows ``harbor2.org/algorithms-extra:1``. Any other pattern is an image name: it
allows exactly that image; without a tag, every tag of it (``repo/name`` allows
``repo/name:2``); with a tag, that tag only; with ``@sha256:<hex>``, that digest only.
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
    "looks_like_regex",
    "split_image",
]

_DIGEST_SEP = "@sha256:"
#: Characters that make an ``allowed_algorithms`` entry a regular expression (as vantage6
#: decides it); a pattern without any of them is an image name, compared as such.
_REGEX_CHARACTERS = frozenset("*?+^$[](){}|\\")


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
    #: vantage6-style patterns (prefix regular expressions or image names).
    allowed_algorithms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        checks = [("allowed_images", p, p.split(_DIGEST_SEP, 1)[0])
                  for p in self.allowed_images]
        checks += [("allowed_algorithms", p, p) for p in self.allowed_algorithms
                   if looks_like_regex(p)]
        for key, pattern, expression in checks:
            try:
                re.compile(expression)
            except re.error as exc:
                raise ConfigurationError(
                    f"{key} pattern {pattern!r} of node '{self.node_name}' is not "
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
        candidates: tuple[str, ...] = (without_digest, repository)
    else:
        name_pattern = pattern
        candidates = (image, without_digest, repository)
    regex = re.compile(name_pattern)
    return any(regex.fullmatch(c) for c in candidates)


def looks_like_regex(pattern: str) -> bool:
    """Whether an ``allowed_algorithms`` entry is a regular expression (else an image name)."""
    return any(character in _REGEX_CHARACTERS for character in pattern)


def _name_matches(name: str, image: str) -> bool:
    """vantage6's image-name rule: same repository; the name's tag or digest, if any."""
    repository, tag, digest = split_image(image)
    wanted_repository, wanted_tag, wanted_digest = split_image(name)
    if wanted_repository != repository:
        return False
    if wanted_digest is not None:
        return digest is not None and digest.lower() == wanted_digest.strip().lower()
    if wanted_tag is not None:
        # NOTE: Docker reads a reference without tag or digest as ':latest'
        return (tag or ("latest" if digest is None else None)) == wanted_tag
    return True


def _algorithm_matches(pattern: str, image: str) -> bool:
    if looks_like_regex(pattern):
        return re.match(pattern, image) is not None  # from the start: a prefix match
    return _name_matches(pattern, image)


def image_allowed(image: str, patterns: Iterable[str] = (),
                  algorithms: Iterable[str] = ()) -> bool:
    """Whether ``image`` may run here: the one matching function of node and mock.

    Args:
        image: the image reference of the task.
        patterns: ``allowed_images`` (full-match regular expressions, see the module).
        algorithms: ``allowed_algorithms`` (vantage6's prefix expressions or image names).

    Returns:
        True when any pattern of either list allows the image, or when both are empty.
    """
    patterns, algorithms = list(patterns), list(algorithms)
    if not patterns and not algorithms:
        return True
    return (any(_pattern_matches(p, image) for p in patterns)
            or any(_algorithm_matches(a, image) for a in algorithms))


def _image_lists(policy: NodePolicy) -> str:
    names = [key for key, value in (("allowed_images", policy.allowed_images),
                                    ("allowed_algorithms", policy.allowed_algorithms))
             if value]
    return " nor ".join(names)


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
    if not image_allowed(request.image, policy.allowed_images, policy.allowed_algorithms):
        return PolicyDecision.refuse(
            f"image '{request.image}' refused by node '{node}': not in {_image_lists(policy)}"
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
