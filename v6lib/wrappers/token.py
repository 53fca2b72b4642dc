"""Read the container token's claims (without verifying them) to learn the run's ids.

The token is verified by the server on every request; inside the container its claims
only tell the algorithm who it is. Stdlib only, so algorithm images need no JWT library.
"""

from __future__ import annotations

import binascii
import json
from pathlib import Path
from typing import Any

from .contract import ContainerEnv
from .metadata import RunMetadata

__all__ = ["metadata_for_run", "metadata_from_token", "read_claims"]

_ID_FIELDS = ("task_id", "organization_id", "collaboration_id", "run_id", "job_id", "node_id",
              "study_id")
# Where a token may keep the run's identity: flat claims, or nested (vantage6 puts a dict
# in "sub"; others use "identity" or "container").
_NESTED = ("sub", "identity", "container", "claims")
_URLSAFE = bytes.maketrans(b"-_", b"+/")


def read_claims(token: str) -> dict[str, Any]:
    """The JSON claims of a JWT, or ``{}`` when ``token`` is not a readable JWT."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        return {}
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        # NOTE: binascii, not base64.urlsafe_b64decode (the same decoding): the base64
        # module's own imports cost every run about 0.5 ms.
        claims = json.loads(binascii.a2b_base64(segment.encode("ascii").translate(_URLSAFE)))
    except (binascii.Error, ValueError, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def metadata_for_run(token: str, env: ContainerEnv) -> RunMetadata:
    """The run's :class:`RunMetadata`: ids from the token, files from the environment
    (vantage6's ``@metadata`` hands over both)."""
    return metadata_from_token(token, temporary_folder=env.temporary_folder,
                               input_file=env.input_file, output_file=env.output_file,
                               token_file=env.token_file)


def metadata_from_token(token: str, *, temporary_folder: Path | None = None,
                        input_file: Path | None = None, output_file: Path | None = None,
                        token_file: Path | None = None) -> RunMetadata:
    """Fill :class:`RunMetadata` from the token's claims (and the files given); unknown
    fields stay None."""
    claims = read_claims(token)
    sources = [claims] + [claims[k] for k in _NESTED if isinstance(claims.get(k), dict)]
    found: dict[str, Any] = {}
    for name in (*_ID_FIELDS, "image", "databases"):
        for source in sources:
            if source.get(name) is not None:
                found[name] = source[name]
                break
    image = found.get("image")
    databases = found.get("databases")
    return RunMetadata(
        **{name: _as_int(found.get(name)) for name in _ID_FIELDS},
        image=image if isinstance(image, str) else None,
        databases=tuple(db for db in databases if isinstance(db, dict))
        if isinstance(databases, list) else (),
        temporary_folder=temporary_folder,
        input_file=input_file,
        output_file=output_file,
        token_file=token_file,
    )
