"""Node API keys: ``<selector>.<secret>``, a public random selector and a random secret.

Why two parts: the server must find a node's row from the key without storing anything
derived from the secret that could be checked faster than the KDF. The selector is
random, independent of the secret and stored in clear (indexed) to find the row; only
an argon2 hash of the secret is stored to prove it. An earlier format stored a plain
SHA-256 prefix of the whole key for the lookup; such keys are no longer accepted (see
``docs/server-admin.md``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

__all__ = ["SELECTOR_LENGTH", "ApiKey", "new_api_key", "parse_api_key"]

#: Characters of a selector: ``secrets.token_urlsafe(12)``, 96 random bits.
SELECTOR_LENGTH = 16
_SECRET_BYTES = 32
_FORMAT = re.compile(
    rf"(?P<selector>[A-Za-z0-9_-]{{{SELECTOR_LENGTH}}})\.(?P<secret>[A-Za-z0-9_-]{{32,256}})")


@dataclass(frozen=True)
class ApiKey:
    """A parsed key. ``str(key)`` is the text a node operator puts in the node config."""

    selector: str
    secret: str

    def __str__(self) -> str:
        return f"{self.selector}.{self.secret}"

    def __repr__(self) -> str:
        return f"ApiKey(selector={self.selector!r}, secret=<hidden>)"


def new_api_key() -> ApiKey:
    """A fresh key: a 96-bit selector and a 256-bit secret, both URL-safe base64."""
    return ApiKey(secrets.token_urlsafe(12), secrets.token_urlsafe(_SECRET_BYTES))


def parse_api_key(text: str) -> ApiKey | None:
    """The key ``text`` holds, or ``None`` when it is not of the ``selector.secret`` form."""
    if not isinstance(text, str):
        return None
    match = _FORMAT.fullmatch(text.strip())
    if match is None:
        return None
    return ApiKey(match["selector"], match["secret"])
