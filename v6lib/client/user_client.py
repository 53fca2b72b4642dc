"""The researcher's and administrator's Python client for a v6lib server.

``Client("http://127.0.0.1", 7601, "/api")`` keeps vantage6's constructor and method
names; differences are listed in ``docs/researcher.md``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import requests

from v6lib import errors
from v6lib.client.payload import PayloadCodec
from v6lib.client.resources import (
    CollaborationClient,
    NodeClient,
    OrganizationClient,
    ResultClient,
    RoleClient,
    RuleClient,
    RunClient,
    StudyClient,
    TaskClient,
    UserClientResource,
)
from v6lib.client.resources.task import ProgressCallback
from v6lib.client.tls import tls_session
from v6lib.client.transport import DEFAULT_TIMEOUT, Transport
from v6lib.crypto import fingerprint, load_private_key, load_public_key_pem
from v6lib.rules.failures import RunOutcome, failure_error, outcome_of
from v6lib.schemas import RunStatus
from v6lib.trust import TrustStore, default_trust_path

__all__ = ["UserClient", "build_base_url"]

log = logging.getLogger(__name__)

#: what the enrolment answer carries for an authenticator app
ENROLMENT_FIELDS = ("otp_secret", "provisioning_uri", "qr_uri")


class _Default:
    """Marks "not given" where ``None`` has a meaning of its own."""


DEFAULT = _Default()


def build_base_url(server_url: str, port: int | None, api_path: str = "/api") -> str:
    """``("http://127.0.0.1", 7601, "/api")`` -> ``"http://127.0.0.1:7601/api"``.

    A port already in ``server_url`` is kept; ``port=None`` means "use the URL as is".
    """
    url = server_url.rstrip("/")
    if not re.match(r"^https?://", url):
        raise errors.ValidationError(
            f"server_url must start with http:// or https://, got {server_url!r}")
    host_part = url.split("://", 1)[1].split("/", 1)[0]
    if port is not None and not re.search(r":\d+$", host_part):
        if "/" in url.split("://", 1)[1]:
            scheme, rest = url.split("://", 1)
            host, path = rest.split("/", 1)
            url = f"{scheme}://{host}:{port}/{path}"
        else:
            url = f"{url}:{port}"
    path = (api_path or "").strip("/")
    return f"{url}/{path}" if path else url


class UserClient:
    """Talk to a v6lib server as a user: manage resources, create tasks, collect results.

    Args:
        server_url: e.g. ``"http://127.0.0.1"`` or ``"https://v6.example.org"``.
        port: the server's port (``None`` when ``server_url`` already has it).
        api_path: the API prefix, ``"/api"`` by default.
        session: a ``requests.Session`` to reuse (proxies, certificates, retries).
        ca_file: a PEM bundle of the certificate authorities to trust for an ``https``
            server whose certificate is not signed by a public one (e.g. an
            organization's own CA); not together with ``session``.
        timeout: seconds for each ordinary request.
        verbose: log every request at INFO level (for debugging a connection).
        trust_file: where the organization keys and encrypted collaborations this user
            has seen are pinned (see :mod:`v6lib.trust`); by default a file per server
            under the user's data directory. ``None`` pins for this object's life only.
    """

    def __init__(self, server_url: str, port: int | None = None, api_path: str = "/api",
                 *, session: requests.Session | None = None,
                 ca_file: str | os.PathLike[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, verbose: bool = False,
                 trust_file: str | os.PathLike[str] | _Default | None = DEFAULT) -> None:
        self.base_url = build_base_url(server_url, port, api_path)
        if session is not None and ca_file is not None:
            raise errors.ValidationError(
                "give either session or ca_file (set the session's verify instead)")
        self.transport = Transport(self.base_url, session=session or tls_session(ca_file),
                                   timeout=timeout,
                                   refresh=self._refresh)
        self.verbose = verbose
        if verbose:
            _log_to_stderr()
        self.refresh_token: str | None = None
        self.user_id: int | None = None
        self._whoami: dict[str, Any] | None = None
        path = default_trust_path(self.base_url) if isinstance(trust_file, _Default) \
            else (None if trust_file is None else Path(trust_file))
        self.trust = TrustStore(path)
        self.codec = PayloadCodec(self.transport, self.trust,
                                  organization_lookup=self._organization_id)
        self.organization = OrganizationClient(self.transport)
        self.collaboration = CollaborationClient(self.transport)
        self.study = StudyClient(self.transport)
        self.node = NodeClient(self.transport)
        self.user = UserClientResource(self.transport)
        self.role = RoleClient(self.transport)
        self.rule = RuleClient(self.transport)
        self.task = TaskClient(self.transport, self.codec)
        self.run = RunClient(self.transport)
        self.result = ResultClient(self.transport, self.codec)

    def __repr__(self) -> str:
        who = f" as user {self.user_id}" if self.user_id is not None else ""
        return f"<UserClient {self.base_url}{who}>"

    # ------------------------------------------------------------------ session
    @property
    def token(self) -> str | None:
        """The current access token (``None`` before ``authenticate``)."""
        return self.transport.token

    def authenticate(self, username: str, password: str,
                     mfa_code: str | int | None = None) -> None:
        """Log in; the access token is then renewed automatically when it expires.

        Raises:
            MFARequiredError: the server requires two-factor authentication and the
                account has not set it up yet; the error's details hold the secret for an
                authenticator app (``otp_secret``, ``provisioning_uri``).
            AuthenticationError: wrong username, password or (for an account with
                two-factor authentication) missing or wrong ``mfa_code``; the server does
                not say which.
            RateLimitedError: too many failed attempts from this address; wait.
        """
        body: dict[str, Any] = {"username": username, "password": password}
        if mfa_code is not None:
            body["mfa_code"] = str(mfa_code)
        answer = self.transport.post("/token/user", json=body, authenticated=False)
        if "access_token" not in answer and "otp_secret" in answer:
            # the enrolment: the server answers it as vantage6 does (200, no token)
            raise errors.MFARequiredError(
                f"{answer.get('msg', 'set up two-factor authentication')} (call "
                "authenticate(username, password, mfa_code='123456') with the code from "
                "your authenticator app)",
                details={key: answer[key] for key in ENROLMENT_FIELDS if key in answer})
        self.transport.token = answer["access_token"]
        self.refresh_token = answer.get("refresh_token")
        self.user_id = _id_from_url(answer.get("user_url"))
        self._whoami = None
        self.codec.organization_id = None
        if self.verbose:
            log.info("authenticated at %s as %s (user id %s)", self.base_url, username,
                     self.user_id)

    def _refresh(self) -> str | None:
        """Called by the transport on a 401: trade the refresh token for a new access token."""
        if not self.refresh_token:
            return None
        try:
            answer = self.transport.post(
                "/token/refresh", authenticated=False,
                headers={"Authorization": f"Bearer {self.refresh_token}"})
        except errors.AuthenticationError:
            return None
        self.refresh_token = answer.get("refresh_token") or self.refresh_token
        return str(answer["access_token"])

    def _organization_id(self) -> int:
        return int(self.whoami["organization"]["id"])

    @property
    def whoami(self) -> dict[str, Any]:
        """``{"user": {...}, "organization": {...}}`` of the logged-in user (cached)."""
        if self._whoami is None:
            if self.user_id is None:
                raise errors.AuthenticationError("not logged in: call authenticate() first")
            user = self.user.get(self.user_id)
            organization = self.organization.get(int(user["organization_id"]))
            self._whoami = {"user": user, "organization": organization}
            self.codec.organization_id = int(user["organization_id"])
        return self._whoami

    def setup_encryption(self, private_key_path: str | os.PathLike[str] | None) -> None:
        """Load your organization's private key to read and write encrypted payloads.

        ``None`` means "no encryption" (allowed for unencrypted collaborations only;
        tasks in encrypted ones then fail with a clear error). A key that does not match
        the public key the server holds for your organization is reported in the log.
        """
        if private_key_path is None:
            self.codec.private_key = None
            return
        key = load_private_key(private_key_path)
        self.codec.private_key = key
        if self.user_id is None:
            return
        try:
            organization = self.whoami["organization"]
        except errors.V6Error as exc:  # the check is a courtesy; not being allowed is fine
            log.info("cannot compare the key with the server's public key: %s", exc.message)
            return
        # NOTE: your own key is the truth about your organization; later swaps of it on
        # the server are then refused like any other organization's.
        self.trust.accept(int(organization["id"]), fingerprint(key))
        stored = organization.get("public_key")
        if not stored:
            log.warning("organization %s has no public key on the server; others cannot "
                        "encrypt for it until one is uploaded", organization.get("id"))
        elif fingerprint(load_public_key_pem(stored)) != fingerprint(key):
            log.warning("the private key %s does not match the public key the server holds "
                        "for organization %s: results sealed for it will not open",
                        private_key_path, organization.get("id"))

    # ------------------------------------------------------------------ results
    def wait_for_results(self, task_id: int, timeout: float | None = None,
                         interval: float | None = None, *,
                         raise_on_failure: bool = True,
                         on_progress: ProgressCallback | None = None) -> list[Any]:
        """Wait until every run of the task has ended, then return the results.

        Args:
            task_id: the task to wait for.
            timeout: give up after this many seconds (``None``: wait as long as it takes).
            interval: longest single long-poll, in seconds (at most 60); the server
                answers as soon as the task is done, so this is not a polling period.
            raise_on_failure: when false, return a :class:`RunOutcome` per run instead of
                raising, so completed results survive a failure elsewhere.
            on_progress: called with each run whose progress changed, in order (see
                :meth:`~v6lib.client.resources.task.TaskClient.wait`).

        Returns:
            Decoded results in run order, or ``RunOutcome`` objects.

        Raises:
            AlgorithmError: a run did not complete; names organization, status and log.
            WaitTimeoutError: ``timeout`` passed first.
        """
        task = self.task.wait(task_id, timeout=timeout, interval=interval,
                              on_progress=on_progress)
        self.result.know_task(task)  # its uid, image and initiator: no second request
        outcomes = self.outcomes(task_id)
        if raise_on_failure:
            if any(not o.ok for o in outcomes):
                raise failure_error(task_id, outcomes, self._organization_names(outcomes))
            return [o.result for o in outcomes]
        return outcomes

    def outcomes(self, task_id: int) -> list[RunOutcome]:
        """What each run of a task ended with (decoded results for completed runs)."""
        outcomes = []
        for run in self.run.from_task(task_id):
            result = None
            if RunStatus(run["status"]) is RunStatus.COMPLETED:
                result = self.result.decode({**run, "task_id": task_id})
            outcomes.append(outcome_of(run, result))
        return outcomes

    def _organization_names(self, outcomes: list[RunOutcome]) -> dict[int, str]:
        names: dict[int, str] = {}
        for outcome in outcomes:
            if outcome.ok or outcome.organization_id in names:
                continue
            try:
                names[outcome.organization_id] = str(
                    self.organization.get(outcome.organization_id).get("name", ""))
            except errors.V6Error:
                continue  # the name is a courtesy; the id is already in the message
        return names


def _log_to_stderr() -> None:
    """``verbose=True``: show the client's messages and every HTTP request on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    for name, level in (("v6lib.client", logging.INFO), ("urllib3", logging.DEBUG)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(getattr(h, "_v6_verbose", False) for h in logger.handlers):
            handler._v6_verbose = True  # type: ignore[attr-defined]
            logger.addHandler(handler)


def _id_from_url(url: Any) -> int | None:
    """The trailing id of ``/api/user/7``."""
    if not isinstance(url, str):
        return None
    match = re.search(r"/(\d+)/?$", url)
    return int(match.group(1)) if match else None
