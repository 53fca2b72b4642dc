"""The one exception hierarchy of v6lib, shared by client, server, node, wrappers and mock.

Every error carries a message a person can act on and a stable machine-readable
``code``. The server turns an error into a JSON body ``{"code": ..., "message": ...}``
with the class's ``http_status``; the client turns that body back into the same class,
so ``except v6lib.errors.NotFoundError`` works on both sides of the wire.

::

    V6Error
    ├── ConfigurationError            bad config file or setting (names key and file)
    ├── ValidationError               malformed input (names the field)
    │   └── SerializationError        a value cannot cross the JSON/language boundary
    ├── AuthenticationError           who are you? (bad credentials, expired/forged token)
    │   └── MFARequiredError          password was right; set up two-factor authentication
    ├── PermissionDenied              you may not do this
    ├── NotFoundError                 no such resource (or not visible to you)
    ├── ConflictError                 state does not allow it (illegal run transition, duplicate)
    ├── PayloadTooLargeError          request body above the configured limit
    ├── RateLimitedError              too many attempts (login throttling, long-polls per caller)
    ├── EncryptionError               the encryption protocol failed
    │   ├── DecryptionError           generic failure to open an envelope
    │   │   ├── TamperedError         ciphertext or header changed after sealing
    │   │   ├── WrongKeyError         no recipient slot for this private key
    │   │   ├── BindingMismatchError  envelope belongs to another task/organization
    │   │   └── TruncatedError        envelope cut short
    │   ├── UnsupportedVersionError   envelope version unknown to this library
    │   ├── KeyChangedError           an organization's public key differs from the pinned one
    │   └── EncryptionDowngradeError  an encrypted collaboration now claims to be plain
    ├── AlgorithmError                the algorithm (or its data) failed
    │   ├── DataError                 a data source is missing, unreadable or mis-typed
    │   ├── PrivacyError              a result would disclose too much
    │   ├── SandboxViolation          a MockNetwork run did what a container cannot
    │   │                             (also a PermissionError, as the OS would refuse it)
    │   └── UnsafeFileError           a file the algorithm left is a link, pipe, device or too big
    ├── PolicyError                   a node's data-owner policy refused a run
    ├── RuntimeUnavailableError       the container runtime (Docker) cannot be used
    ├── ServerUnavailableError        the server cannot be reached (retry later)
    │   └── ServerBusyError           the server has no thread to spare now (retry later)
    ├── WaitTimeoutError              a task did not finish within the time waited for it
    ├── VersionMismatchError          client/node and server versions are incompatible
    └── UnsupportedError              a vantage6 command or option v6lib deliberately lacks
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlgorithmError",
    "AuthenticationError",
    "BindingMismatchError",
    "ConfigurationError",
    "ConflictError",
    "DataError",
    "DatabaseUnavailableError",
    "DecryptionError",
    "EncryptionDowngradeError",
    "EncryptionError",
    "KeyChangedError",
    "MFARequiredError",
    "NodeHaltedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDenied",
    "PolicyError",
    "PrivacyError",
    "RateLimitedError",
    "RuntimeUnavailableError",
    "SandboxViolation",
    "SerializationError",
    "ServerBusyError",
    "ServerUnavailableError",
    "TamperedError",
    "TruncatedError",
    "UnsafeFileError",
    "UnsupportedError",
    "UnsupportedVersionError",
    "V6Error",
    "ValidationError",
    "VersionMismatchError",
    "WaitTimeoutError",
    "WrongKeyError",
    "error_class_for_code",
]


class V6Error(Exception):
    """Base of every error v6lib raises on purpose.

    Args:
        message: what went wrong and, where possible, what to do about it.
        details: optional structured context (field names, ids) that is safe to show.
    """

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked the caller to wait before trying again, if it said."""
        value = self.details.get("retry_after_seconds")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return None
        return float(value)

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the server sends for this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ConfigurationError(V6Error):
    code = "configuration_error"
    http_status = 500
    exit_code = 78  # EX_CONFIG


class ValidationError(V6Error):
    code = "validation_error"
    http_status = 400
    exit_code = 65  # EX_DATAERR


class SerializationError(ValidationError):
    code = "serialization_error"


class AuthenticationError(V6Error):
    code = "authentication_error"
    http_status = 401
    exit_code = 77  # EX_NOPERM


class MFARequiredError(AuthenticationError):
    """Raised by the client at enrolment, which the server answers with the TOTP secret
    (200, no token, as vantage6 does); the details carry the secret and its URI."""

    code = "mfa_required"


class PermissionDenied(V6Error):
    code = "permission_denied"
    http_status = 403
    exit_code = 77


class NotFoundError(V6Error):
    code = "not_found"
    http_status = 404
    exit_code = 66  # EX_NOINPUT


class ConflictError(V6Error):
    code = "conflict"
    http_status = 409


class PayloadTooLargeError(V6Error):
    code = "payload_too_large"
    http_status = 413


class RateLimitedError(V6Error):
    code = "rate_limited"
    http_status = 429
    exit_code = 75  # EX_TEMPFAIL


class EncryptionError(V6Error):
    code = "encryption_error"
    http_status = 400


class DecryptionError(EncryptionError):
    code = "decryption_error"


class TamperedError(DecryptionError):
    code = "tampered"


class WrongKeyError(DecryptionError):
    code = "wrong_key"


class BindingMismatchError(DecryptionError):
    code = "binding_mismatch"


class TruncatedError(DecryptionError):
    code = "truncated"


class UnsupportedVersionError(EncryptionError):
    code = "unsupported_version"


class KeyChangedError(EncryptionError):
    """A pinned organization key was replaced on the server: nothing is sealed for the
    new key until a person compares fingerprints and accepts it."""

    code = "key_changed"
    http_status = 409


class EncryptionDowngradeError(EncryptionError):
    """A collaboration seen encrypted is now said to be plain: no plaintext is sent."""

    code = "encryption_downgrade"
    http_status = 409


class AlgorithmError(V6Error):
    code = "algorithm_error"
    http_status = 422
    exit_code = 70  # EX_SOFTWARE


class DataError(AlgorithmError):
    code = "data_error"
    exit_code = 66


class PrivacyError(AlgorithmError):
    code = "privacy_error"
    exit_code = 67


class SandboxViolation(AlgorithmError, PermissionError):
    """A MockNetwork run tried what an algorithm container cannot do: read another
    organization's data, write outside its own folders, or use the network.

    Also a ``PermissionError`` (an ``OSError``), because in a container the operating
    system refuses the same call with one: code that copes with an ``OSError`` there (the
    import system skipping a bytecode cache it cannot write, say) copes here too.
    """

    code = "sandbox_violation"
    exit_code = 77  # EX_NOPERM


class UnsafeFileError(AlgorithmError):
    """A file an algorithm's container left behind that the node refuses to read."""

    code = "unsafe_file"


class PolicyError(V6Error):
    code = "policy_refused"
    http_status = 403
    exit_code = 77


class RuntimeUnavailableError(V6Error):
    code = "runtime_unavailable"
    http_status = 503
    exit_code = 69  # EX_UNAVAILABLE


class NodeHaltedError(V6Error):
    """A thread of the node kept failing: the node stops so its service manager restarts
    it (see :mod:`v6lib.node.supervisor`)."""

    code = "node_halted"
    exit_code = 70  # EX_SOFTWARE


class ServerUnavailableError(V6Error):
    code = "server_unavailable"
    http_status = 503
    exit_code = 69


class DatabaseUnavailableError(ServerUnavailableError):
    """The server runs but cannot reach its database (restarting, overloaded, network):
    a temporary condition, answered with 503 and ``Retry-After``."""

    code = "database_unavailable"


class ServerBusyError(ServerUnavailableError):
    """Every thread the server keeps for long-polls is taken; ``retry_after`` says when
    to come back. A subclass of ``ServerUnavailableError``, so callers that retry an
    unreachable server retry this too."""

    code = "server_busy"


class VersionMismatchError(V6Error):
    code = "version_mismatch"
    http_status = 426
    exit_code = 76


class WaitTimeoutError(V6Error):
    code = "wait_timeout"
    http_status = 408
    exit_code = 75  # EX_TEMPFAIL: the task keeps running, wait again later


class UnsupportedError(V6Error):
    """A vantage6 command or option with no meaning here (its message says what to use)."""

    code = "unsupported"
    http_status = 501
    exit_code = 64  # EX_USAGE: the command line asked for something that does not exist


def _all_subclasses(cls: type[V6Error]) -> list[type[V6Error]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_class_for_code(code: str | None) -> type[V6Error]:
    """The error class whose ``code`` is ``code``; ``V6Error`` for unknown codes.

    Used by the client to re-raise a server's JSON error as the same class.
    """
    for cls in _all_subclasses(V6Error):
        if cls.code == code:
            return cls
    return V6Error
