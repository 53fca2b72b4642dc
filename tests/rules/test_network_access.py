"""What a run may reach: database URIs' endpoints, their relayed form, the whitelist."""

from __future__ import annotations

import pytest

from v6lib.rules.network_access import (
    Allowlist,
    Endpoint,
    network_endpoint,
    relayed_uri,
    uri_password,
    uri_user,
)


@pytest.mark.parametrize(("uri", "endpoint"), [
    ("postgresql+psycopg://u:p@db.example.org/cdm", Endpoint("db.example.org", 5432)),
    ("postgresql://db:6543/x", Endpoint("db", 6543)),
    ("mysql+pymysql://u@10.0.0.5/x", Endpoint("10.0.0.5", 3306)),
    ("mssql+pyodbc://u:p@sql.local/x?driver=ODBC", Endpoint("sql.local", 1433)),
    ("https://sparql.example.org/query", Endpoint("sparql.example.org", 443)),
    ("http://[::1]:7200/repositories/x", Endpoint("::1", 7200)),
])
def test_network_endpoints(uri: str, endpoint: Endpoint) -> None:
    assert network_endpoint(uri) == endpoint


@pytest.mark.parametrize("uri", ["/data/a.csv", "sqlite:////data/a.sqlite", "C:/x.csv"])
def test_files_have_no_endpoint(uri: str) -> None:
    assert network_endpoint(uri) is None


def test_unknown_scheme_without_port_is_an_error_that_hides_the_password() -> None:
    with pytest.raises(ValueError, match=r"'weird://u:\*\*\*@h/x' names no port") as info:
        network_endpoint("weird://u:s3cret@h/x")
    assert "s3cret" not in str(info.value)


def test_relayed_uri_keeps_user_database_and_query_and_drops_the_password() -> None:
    uri = "postgresql+psycopg://re%40der:p%3Ass@db.example.org:5432/cdm?sslmode=disable"
    assert relayed_uri(uri, "127.0.0.1", 16001) == (
        "postgresql+psycopg://re%40der@127.0.0.1:16001/cdm?sslmode=disable")
    assert relayed_uri(uri, "127.0.0.1", 16001, keep_password=True) == (
        "postgresql+psycopg://re%40der:p%3Ass@127.0.0.1:16001/cdm?sslmode=disable")
    assert uri_password(uri) == "p:ss" and uri_user(uri) == "re@der"
    assert relayed_uri("https://sparql.example.org/q?x=1", "127.0.0.1", 9) == (
        "https://127.0.0.1:9/q?x=1")


def test_whitelist_means_what_vantage6_squid_lets_through() -> None:
    allow = Allowlist.of(domains=["Example.org"], ips=["192.0.2.0/28"], ports=[8443],
                         services={"OMOP": "172.17.0.9"})
    assert allow.target("example.org", 443) == Endpoint("example.org", 443)
    assert allow.target("data.example.org", 80) is not None  # subdomains too
    assert allow.target("badexample.org", 443) is None  # not a subdomain
    assert allow.target("example.org.evil.com", 443) is None
    assert allow.target("192.0.2.5", 8443) == Endpoint("192.0.2.5", 8443)
    assert allow.target("192.0.2.16", 443) is None  # outside the network
    assert allow.target("example.org", 5432) is None  # port not whitelisted
    assert allow.target("omop", 5432) == Endpoint("172.17.0.9", 5432)  # a service: any port
    assert Allowlist().empty and not allow.empty
    with pytest.raises(ValueError):
        Allowlist.of(ips=["not an ip"])
