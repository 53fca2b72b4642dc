"""Finding 14a: node API keys were found by an unsalted SHA-256 prefix of the key.

Whoever read the database could test guessed keys against that digest at hash speed.
Now only a random selector (independent of the secret) and an argon2 hash are stored.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import text

from tests.security.conftest import LiveFactory
from v6lib.server.auth.passwords import verify_secret


def _digests(value: str) -> set[str]:
    """Every fast, unsalted digest of ``value`` an attacker could check guesses against."""
    raw = value.encode()
    found = set()
    for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b",
                 "blake2s", "sha3_256"):
        digest = hashlib.new(name, raw).digest()
        found |= {digest.hex(), base64.b64encode(digest).decode(),
                  base64.urlsafe_b64encode(digest).decode().rstrip("=")}
    return found


def _stored_text(row: dict[str, Any]) -> str:
    return "\n".join(str(v) for v in row.values() if v is not None)


def test_the_node_row_holds_nothing_faster_to_check_than_argon2(live: LiveFactory) -> None:
    # Prepare: a node created over HTTP; its key is shown once
    server = live()
    world = server.world()
    token = world.api.token
    collab = server.post("/collaboration", token=token,
                         json={"name": "c2", "organization_ids": [world.org_c]}).json()
    created = server.post("/node", token=token, json={"collaboration_id": collab["id"],
                                                      "organization_id": world.org_c})
    assert created.status_code == 201, created.text
    api_key = created.json()["api_key"]
    selector, _, secret = api_key.partition(".")
    # Execute: read everything the database holds for that node
    with server.app.v6_state.engine.connect() as conn:
        row = dict(conn.execute(text("SELECT * FROM node WHERE id = :id"),
                                {"id": created.json()["id"]}).mappings().one())
    stored = _stored_text(row)
    # Assert: no secret, no fast digest of the secret or of the key, not even a prefix
    assert secret and selector and secret not in stored
    for digest in _digests(secret) | _digests(api_key):
        for start in range(0, len(digest) - 11, 4):
            assert digest[start:start + 12] not in stored
    assert "api_key_lookup" not in row
    assert row["api_key_selector"] == selector
    assert row["api_key_hash"].startswith("$argon2id$")
    assert verify_secret(row["api_key_hash"], secret)
    # and the key works over HTTP, while the same selector with another secret does not
    assert server.post("/token/node", json={"api_key": api_key}).status_code == 200
    forged = f"{selector}.{'A' * len(secret)}"
    assert server.post("/token/node", json={"api_key": forged}).status_code == 401
