"""Node API keys: a random public selector and a random secret."""

from __future__ import annotations

import pytest

from v6lib.server.auth.api_keys import SELECTOR_LENGTH, ApiKey, new_api_key, parse_api_key


def test_new_keys_parse_back_and_differ() -> None:
    first, second = new_api_key(), new_api_key()
    assert parse_api_key(str(first)) == first
    assert len(first.selector) == SELECTOR_LENGTH and len(first.secret) == 43
    assert first.selector != second.selector and first.secret != second.secret


def test_the_selector_says_nothing_of_the_secret() -> None:
    key = new_api_key()
    assert key.selector not in key.secret
    assert key.secret not in repr(key)


@pytest.mark.parametrize("text", [
    "",
    "no-dot-at-all-Y2hvb3NlIGEgbG9uZyByYW5kb20gc2VjcmV0",  # the old format
    "short.Y2hvb3NlIGEgbG9uZyByYW5kb20gc2VjcmV0IGhlcmU",
    "sixteen-chars-ok.too-short",
    "sixteen-chars-ok.has space in the secret part 0123456789",
    "sixteen/chars-ok.Y2hvb3NlIGEgbG9uZyByYW5kb20gc2VjcmV0IGhlcmU",
    "a.b.c",
])
def test_other_forms_are_not_keys(text: str) -> None:
    assert parse_api_key(text) is None


def test_surrounding_whitespace_is_ignored() -> None:
    key = ApiKey("A" * SELECTOR_LENGTH, "b" * 40)
    assert parse_api_key(f"  {key}\n") == key
