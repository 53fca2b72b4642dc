"""The client address behind trusted reverse proxies, and the key failures count under."""

from __future__ import annotations

import ipaddress

import pytest

from tests.server.conftest import build_app
from v6lib.server.client_address import client_address, source_key

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(("peer", "header", "trusted", "expected"), [
    # no trusted proxies: the header is ignored, whatever it says
    ("198.51.100.7", "203.0.113.9", [], "198.51.100.7"),
    # an untrusted peer cannot speak for others
    ("198.51.100.7", "203.0.113.9", PROXIES, "198.51.100.7"),
    # a trusted proxy: the address it forwarded
    ("10.0.0.2", "203.0.113.9", PROXIES, "203.0.113.9"),
    # a client that forges the header: the proxy appends the real address last
    ("10.0.0.2", "1.2.3.4, 203.0.113.9", PROXIES, "203.0.113.9"),
    # two trusted proxies in a row
    ("10.0.0.2", "203.0.113.9, 10.1.1.1", PROXIES, "203.0.113.9"),
    # nothing but proxies: the leftmost
    ("10.0.0.2", "10.9.9.9", PROXIES, "10.9.9.9"),
    # ports and brackets
    ("10.0.0.2", "203.0.113.9:5555", PROXIES, "203.0.113.9"),
    ("fd00::1", "[2001:db8::5]:443", PROXIES, "2001:db8::5"),
    # garbage from a trusted proxy: stop at that proxy
    ("10.0.0.2", "203.0.113.9, not-an-address", PROXIES, "10.0.0.2"),
    # no header
    ("10.0.0.2", None, PROXIES, "10.0.0.2"),
    # IPv4-mapped IPv6 peers are IPv4
    ("::ffff:10.0.0.2", "203.0.113.9", PROXIES, "203.0.113.9"),
])
def test_client_address(peer: str, header: str | None, trusted: list, expected: str) -> None:
    assert client_address(peer, header, trusted) == expected


def test_unparseable_peer_is_kept_as_given() -> None:
    assert client_address("unix-socket", "203.0.113.9", PROXIES) == "unix-socket"
    assert client_address(None, None) == ""


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("", ""),
])
def test_source_key_groups_ipv6_by_64(address: str, key: str) -> None:
    assert source_key(address) == key


def test_the_app_believes_forwarded_for_only_from_trusted_proxies(sqlite_url: str) -> None:
    seen: list[str] = []

    class Probe:
        auth = False

        def on_get(self, req, resp) -> None:  # type: ignore[no-untyped-def]
            seen.append(req.context.client_address)

    from falcon import testing
    for trusted, expected in (([], "127.0.0.1"), (["127.0.0.0/8"], "203.0.113.9")):
        app = build_app(sqlite_url, config={"trusted_proxies": trusted})
        try:
            app.add_route("/probe", Probe())
            testing.TestClient(app).simulate_get(
                "/probe", headers={"X-Forwarded-For": "203.0.113.9"}, remote_addr="127.0.0.1")
        finally:
            app.v6_state.hub.stop()
            app.v6_state.engine.dispose()
        assert seen.pop() == expected
