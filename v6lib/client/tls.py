"""HTTPS sessions that trust a given CA bundle, for servers behind a private CA.

Why a module of its own: the user client, the node's link to the server and the node's
proxy (which forwards algorithm requests upstream) must all trust the same certificate
authority, set once in their configuration. A server behind a TLS-terminating proxy
with a certificate from an organization's own CA is the common production case.

Why a ``Session`` subclass: ``requests`` lets the environment variables
``REQUESTS_CA_BUNDLE`` and ``CURL_CA_BUNDLE`` replace a session's ``verify`` on every
request, so a bundle configured here would silently give way to whatever the process
environment holds. A configured bundle wins here; without one, the environment and the
system's trust store apply as usual.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import requests

from v6lib.errors import ConfigurationError

__all__ = ["tls_session"]


class _CaSession(requests.Session):
    """A session whose ``verify`` (a CA bundle path) the environment cannot replace."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify  # given per request, it outranks the environment
        return super().request(method, url, *args, **kwargs)


def tls_session(ca_file: str | os.PathLike[str] | None = None) -> requests.Session:
    """A new session; with ``ca_file``, it trusts exactly the certificates in that file.

    Raises:
        ConfigurationError: ``ca_file`` is given but is not a readable file, said at
            once instead of as a certificate error at the first request.
    """
    if ca_file is None:
        return requests.Session()
    path = Path(ca_file)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ConfigurationError(f"{path}: the CA bundle to trust is not a readable file")
    session = _CaSession()
    session.verify = str(path)
    return session
