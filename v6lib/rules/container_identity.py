"""The identity object a container token carries in ``sub``, laid out as vantage6 4.x does.

Why: algorithm images built with vantage6's ``vantage6-algorithm-tools`` read the run's
identity from the container token without verifying it (``jwt_payload["sub"]`` must be
an object with ``node_id``, ``organization_id``, ``collaboration_id``, ``study_id``,
``store_id``, ``task_id``, ``image`` and ``databases``): its algorithm client sends
``image``, ``collaboration_id``, ``study_id`` and ``databases`` with every subtask it
creates. So the server signs this object as the token's ``sub``, beside the flat claims
v6lib reads, and the MockNetwork writes the same layout into its tokens.

The object is derived from the flat claims alone, so both always say the same; the
server refuses a token where they differ (:func:`matches_claims`), though the signature
already makes that impossible for a token it issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IDENTITY_FIELDS", "container_identity", "matches_claims"]

#: The flat container claims copied into the identity object (vantage6's names).
IDENTITY_FIELDS = ("run_id", "task_id", "job_id", "node_id", "organization_id",
                   "collaboration_id", "study_id", "image", "databases")


def container_identity(claims: Mapping[str, Any]) -> dict[str, Any]:
    """vantage6's container identity for the flat container ``claims``.

    ``store_id`` is always None: v6lib has no algorithm store, and vantage6's client only
    forwards a store id that is set. ``databases`` defaults to an empty list, as
    vantage6's client reads it.
    """
    identity: dict[str, Any] = {"client_type": "container", "store_id": None}
    for name in IDENTITY_FIELDS:
        identity[name] = claims.get(name)
    identity["databases"] = [dict(db) for db in claims.get("databases") or []]
    return identity


def matches_claims(identity: Any, claims: Mapping[str, Any]) -> bool:
    """Whether ``identity`` (a token's ``sub``) is exactly the one ``claims`` give."""
    return isinstance(identity, Mapping) and dict(identity) == container_identity(claims)
