"""vantage6's configuration keys, each honoured, ignored out loud, or refused.

Why one module: a vantage6 server or node file must load here without any key being
dropped silently. Every vantage6 key either

* is **honoured**: it is v6lib's own key, or it is translated to the v6lib setting with
  the same meaning (``two_factor_auth`` -> ``mfa_required``);
* is **ignored with a warning** that names the key and says why it has no meaning here
  (there is no RabbitMQ, VPN or user interface to configure); or
* is **refused** with an error that names the key and what to use instead, because
  ignoring it would change what the operator asked for (a data-retention period, an
  SSH tunnel, a store whose algorithms should be the only ones).

Keys whose value asks for what v6lib does anyway (``run_context_file: false``) are
honoured without a word. The functions here work on the raw mapping before the pydantic
models validate it; their errors are ``ValueError("<key>: <why>")``, which the loader
reports as ``<file>: <key>: <why>``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NODE_RULES",
    "SERVER_RULES",
    "Rule",
    "reading",
    "translate_database",
    "translate_node",
    "translate_policies",
    "translate_server",
    "warn_ignored",
]

log = logging.getLogger("v6lib.config")

_source: ContextVar[str | None] = ContextVar("v6lib_config_source", default=None)


@contextmanager
def reading(source: str) -> Iterator[None]:
    """Name the file being validated in the warnings given meanwhile."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


def warn_ignored(key: str, why: str) -> None:
    """Log that ``key`` is ignored and why, naming the file being read (if known)."""
    where = _source.get()
    log.warning("%s%s: ignored: %s", f"{where}: " if where else "", key, why)


@dataclass(frozen=True)
class Rule:
    """What happens to one vantage6 key that v6lib has no setting for."""

    action: str  # "ignore" or "refuse"
    why: str
    #: Whether the given value asks for something; a key whose value does not (false,
    #: empty, zero) is dropped without a word, since v6lib already behaves so.
    applies: Callable[[Any], bool] = bool


def _always(_: Any) -> bool:
    return True


SERVER_RULES: dict[str, Rule] = {
    "type": Rule("ignore", "vantage6's label of the environment; no meaning here", _always),
    "allow_drop_all": Rule("ignore", "v6lib has no command that wipes the database"),
    "vpn_server": Rule("ignore", "there is no VPN: algorithms reach each other through "
                                 "the server (subtasks) and their node's proxy"),
    "rabbitmq": Rule("ignore", "server instances share events through the database; "
                               "there is no message broker"),
    "rabbitmq_uri": Rule("ignore", "server instances share events through the database; "
                                   "there is no message broker"),
    "server_url": Rule("ignore", "vantage6 uses it to link an algorithm store and a user "
                                 "interface; v6lib has neither"),
    "ui_url": Rule("ignore", "v6lib has no user interface"),
    "ui": Rule("ignore", "v6lib has no user interface"),
    "images": Rule("ignore", "the server runs from this Python installation, not from "
                             "Docker images"),
    "dev": Rule("ignore", "vantage6's settings for a local algorithm store; v6lib has no "
                          "algorithm store"),
    "debug": Rule("ignore", "Flask/socket.io debug switches; use logging.level: DEBUG"),
    "algorithm_stores": Rule("ignore", "v6lib has no algorithm store"),
    "prometheus": Rule("ignore", "v6lib has no Prometheus exporter"),
    "jwt_token_expiration": Rule(
        "refuse", "vantage6 4.x does not read this key and its unit is not known; set "
                  "access_token_minutes (or vantage6's token_expires_hours) instead", _always),
    "runs_data_cleanup_days": Rule(
        "refuse", "v6lib does not delete old run results by itself, so this retention "
                  "period would not be kept; remove the key and delete old tasks with "
                  "client.task.delete(id)"),
    "runs_data_cleanup_include_input": Rule(
        "refuse", "v6lib does not delete old run inputs by itself; remove the key and "
                  "delete old tasks with client.task.delete(id)"),
    "large_result_store": Rule(
        "refuse", "v6lib keeps results in its own database (streamed, up to "
                  "max_result_bytes), never in an external blob store; remove the key"),
}

NODE_RULES: dict[str, Rule] = {
    "vpn_subnet": Rule("ignore", "there is no VPN: algorithms reach each other through "
                                 "the server and the node's proxy"),
    "images": Rule("ignore", "the node runs from this Python installation, not from "
                             "Docker images"),
    "node_extra_env": Rule("ignore", "the node is not a container here; set the variables "
                                     "in the environment of `v6 node start`"),
    "node_extra_mounts": Rule("ignore", "the node is not a container here: it reads the "
                                        "host's files directly"),
    "node_extra_hosts": Rule("ignore", "the node is not a container here: it uses the "
                                       "host's name resolution"),
    "share_config": Rule("ignore", "a v6lib node never sends its configuration to the "
                                   "server"),
    "dev": Rule("ignore", "vantage6's settings for `v6 dev` networks; `v6 dev` writes "
                          "plain v6lib configurations"),
    "debug": Rule("ignore", "Flask/socket.io debug switches; use logging.level: DEBUG"),
    "prometheus": Rule("ignore", "v6lib has no Prometheus reporting"),
    "run_context_file": Rule(
        "refuse", "algorithms get their context from v6lib's container contract "
                  "(environment and input file), not from run_context.json; remove the key"),
}

_POLICY_RULES: dict[str, Rule] = {
    "allowed_algorithm_stores": Rule(
        "refuse", "v6lib has no algorithm store, so this list cannot restrict anything "
                  "and every image would run; list the images in allowed_algorithms"),
    "allow_either_whitelist_or_store": Rule(
        "ignore", "it combines allowed_algorithms with algorithm stores, which v6lib "
                  "does not have"),
    "allow_basics_algorithm": Rule(
        "ignore", "no image is allowed implicitly here; add the basics algorithm's image "
                  "to allowed_algorithms to allow it"),
}


def _apply(data: dict[str, Any], rules: Mapping[str, Rule], prefix: str = "") -> None:
    for key, rule in rules.items():
        if key not in data:
            continue
        value = data.pop(key)
        if not rule.applies(value):
            continue
        if rule.action == "refuse":
            raise ValueError(f"{prefix}{key}: {rule.why}")
        warn_ignored(f"{prefix}{key}", rule.why)


def _rename(data: dict[str, Any], old: str, new: str,
            convert: Callable[[Any], Any] = lambda v: v) -> None:
    """Move vantage6's ``old`` to v6lib's ``new``; both given differently is an error."""
    if old not in data:
        return
    try:
        value = convert(data.pop(old))
    except ValueError as exc:
        raise ValueError(f"{old}: {exc}") from None
    if new in data and data[new] != value:
        raise ValueError(f"{old}: given together with {new}, with another value; keep one")
    data[new] = value


def _hours_to_minutes(value: Any) -> int:
    return max(1, math.ceil(_number(value) * 60))


def _whole_hours(value: Any) -> int:
    return max(1, math.ceil(_number(value)))


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number of hours, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"expected a positive number of hours, got {value!r}")
    return number


def _vantage6_password_policy(data: dict[str, Any]) -> None:
    """vantage6 puts its login lockout and mail spacing under ``password_policy``."""
    policy = data.get("password_policy")
    if not isinstance(policy, dict):
        return
    policy = dict(policy)
    _rename(policy, "max_failed_attempts", "max_failed_logins")
    _rename(policy, "inactivation_minutes", "lockout_minutes")
    for key in ("max_failed_logins", "lockout_minutes"):
        if key in policy:
            if key in data and data[key] != policy[key]:
                raise ValueError(f"password_policy: {key} is given twice, differently")
            data[key] = policy.pop(key)
    if "between_user_emails_minutes" in policy:
        # one recovery mail per account per that many minutes
        data.setdefault("recovery_window_minutes", policy.pop("between_user_emails_minutes"))
        data.setdefault("recovery_requests_per_account", 1)
    data["password_policy"] = policy


def _email_token_validity(data: dict[str, Any]) -> None:
    smtp = data.get("smtp")
    if isinstance(smtp, dict) and "email_token_validity_minutes" in smtp:
        # vantage6 documents the key at the top level but reads it from smtp
        smtp = dict(smtp)
        minutes = smtp.pop("email_token_validity_minutes")
        if data.get("email_token_validity_minutes", minutes) != minutes:
            raise ValueError("email_token_validity_minutes is given twice, differently "
                             "(top level and smtp)")
        data["smtp"] = smtp
        data["email_token_validity_minutes"] = minutes


def translate_server(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A server mapping with vantage6's keys translated, ignored (warned) or refused."""
    data = dict(raw)
    if "ip" in data:
        if "host" in data:
            raise ValueError("give host or ip (vantage6 name), not both")
        data["host"] = data.pop("ip")
    _rename(data, "two_factor_auth", "mfa_required")
    _rename(data, "token_expires_hours", "access_token_minutes", _hours_to_minutes)
    _rename(data, "refresh_token_expires_hours", "refresh_token_hours", _whole_hours)
    _rename(data, "cors_allowed_origins", "cors_origins")
    _vantage6_password_policy(data)
    _email_token_validity(data)
    _apply(data, SERVER_RULES)
    return data


def translate_node(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A node mapping with vantage6's top-level keys ignored (warned) or refused."""
    data = dict(raw)
    _apply(data, NODE_RULES)
    return data


def translate_policies(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The node's ``policies`` with vantage6's store-related keys ignored or refused."""
    data = dict(raw)
    _apply(data, _POLICY_RULES, prefix="policies.")
    return data


def translate_database(raw: Mapping[str, Any], label: str = "") -> dict[str, Any]:
    """One database entry with vantage6's ``mount_mode`` and ``env`` handled."""
    data = dict(raw)
    where = f"databases.{label}." if label else ""
    mode = str(data.pop("mount_mode", "ro")).lower()
    if mode == "copy":
        warn_ignored(f"{where}mount_mode", "file databases are mounted read-only into the "
                                    "algorithm's container, never copied")
    elif mode != "ro":
        raise ValueError(f"{where}mount_mode: {mode!r} is not supported; file databases are "
                         "always mounted read-only (ro)")
    if data.pop("env", None):
        raise ValueError(f"{where}env: per-database environment variables are not "
                         "supported; set them for all algorithms under algorithm_env")
    return data
