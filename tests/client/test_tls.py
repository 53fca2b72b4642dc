"""The client trusts an HTTPS server's certificate through ``ca_file``, and only so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.tls_certificate import https_version_server, self_signed_certificate
from v6lib import errors
from v6lib.client import Client


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server with a self-signed certificate: (its URL, that certificate)."""
    with https_version_server(tmp_path_factory.mktemp("tls")) as server:
        yield server


def test_the_configured_ca_is_trusted(https_server: tuple[str, Path]) -> None:
    url, ca_file = https_server
    client = Client(url, None, "/api", ca_file=ca_file, trust_file=None)
    assert client.transport.get("/version", authenticated=False) == {"version": "1.0"}


def test_without_it_the_certificate_is_refused(https_server: tuple[str, Path]) -> None:
    url, _ = https_server
    client = Client(url, None, "/api", trust_file=None)
    with pytest.raises(errors.ServerUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        client.transport.get("/version", authenticated=False)


def test_the_environment_cannot_swap_the_configured_ca(
        https_server: tuple[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle in REQUESTS_CA_BUNDLE trusts another certificate: with ``ca_file`` it is
    not used (the server is still trusted); without, it replaces the system's store."""
    url, ca_file = https_server
    other, _ = self_signed_certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    client = Client(url, None, "/api", ca_file=ca_file, trust_file=None)
    assert client.transport.get("/version", authenticated=False) == {"version": "1.0"}
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    pinned_elsewhere = Client(url, None, "/api", ca_file=other, trust_file=None)
    with pytest.raises(errors.ServerUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        pinned_elsewhere.transport.get("/version", authenticated=False)


def test_a_missing_bundle_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="not a readable file"):
        Client("https://127.0.0.1", 1, "/api", ca_file=tmp_path / "absent.pem",
               trust_file=None)


def test_ca_file_and_session_exclude_each_other(https_server: tuple[str, Path]) -> None:
    url, ca_file = https_server
    with pytest.raises(errors.ValidationError, match="either session or ca_file"):
        Client(url, None, "/api", session=requests.Session(), ca_file=ca_file,
               trust_file=None)
