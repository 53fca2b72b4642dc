"""Loading configuration files: YAML, vantage6 wrappers, environment overrides, clear errors."""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml
from pydantic import BaseModel

from v6lib.config.node import NodeConfig
from v6lib.config.server import ServerConfig
from v6lib.config.vantage6 import reading
from v6lib.errors import ConfigurationError

__all__ = ["load_node_config", "load_server_config"]

_Config = TypeVar("_Config", bound=BaseModel)
_WINDOWS_ABSOLUTE = re.compile(r"^([A-Za-z]:[\\/]|\\\\)")
#: "key: why" or "section.key: why" in a message raised for the whole mapping
_KEYED_MESSAGE = re.compile(r"^([A-Za-z_][\w.-]*): (.+)$", re.S)


def _read_yaml(path: Path, environment: str | None) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read configuration file: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigurationError(f"{path}: invalid YAML{where}: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: the top level must be a mapping of keys to values")
    return _unwrap_vantage6(path, data, environment)


def _unwrap_vantage6(path: Path, data: dict[str, Any], environment: str | None) -> dict[str, Any]:
    """vantage6 files put settings under ``application:`` or ``environments: {prod: ...}``."""
    if set(data) == {"application"} and isinstance(data["application"], dict):
        return data["application"]
    if "environments" in data and set(data) <= {"environments", "application"}:
        envs = data["environments"] or {}
        application = data.get("application")
        if not envs and environment is None and isinstance(application, dict):
            return application
        chosen = environment or ("prod" if "prod" in envs or len(envs) != 1 else next(iter(envs)))
        section = envs.get(chosen) if isinstance(envs, dict) else None
        if not isinstance(section, dict):
            raise ConfigurationError(
                f"{path}: environments.{chosen}: no such environment section "
                f"(found: {', '.join(map(str, envs)) or 'none'})"
            )
        return section
    return data


def _env_overrides(prefix: str, fields: set[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in os.environ.items():
        if not name.upper().startswith(prefix):
            continue
        keys = name[len(prefix) :].lower().split("__")
        if keys[0] not in fields:
            continue
        value: Any = raw
        if raw.lstrip().startswith(("[", "{")):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(
                    f"environment variable {name}: invalid JSON: {exc}"
                ) from None
        target = overrides
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return overrides


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: Any, model: type[BaseModel], data: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of {', '.join(expected)}" if expected else error["msg"]
    if kind == "extra_forbidden":
        known = list(model.model_fields) if len(error["loc"]) == 1 else []
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key (not a known setting){hint}"
    if kind == "missing":
        return "required setting is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _line(source: Path, error: Any, model: type[BaseModel], data: dict[str, Any]) -> str:
    """``<file>: <key>: <what is wrong>``; an error about the whole mapping names its key."""
    where, message = _loc(error["loc"]), _describe(error, model, data)
    keyed = _KEYED_MESSAGE.match(message) if not error["loc"] else None
    if keyed:
        where, message = keyed.groups()
    return f"{source}: {where}: {message}"


def _load(
    model: type[_Config], path: str | os.PathLike[str], prefix: str,
    environment: str | None, overrides: dict[str, Any],
) -> _Config:
    source = Path(path)
    data = _read_yaml(source, environment)
    data = _merge(data, _env_overrides(prefix, set(model.model_fields)))
    data = _merge(data, overrides)
    data.setdefault("name", source.stem)
    try:
        with reading(str(source)):
            config = model.model_validate(data)
    except pydantic.ValidationError as exc:
        lines = [_line(source, e, model, data) for e in exc.errors()]
        raise ConfigurationError("\n".join(lines), details={"file": str(source)}) from None
    _resolve_paths(config, source.parent)
    return config


def _resolve_paths(config: Any, base: Path) -> None:
    """Relative paths in a file mean 'next to this file', not 'wherever I was started'."""

    def fix(value: Path | None) -> Path | None:
        if value is None or value.is_absolute() or _WINDOWS_ABSOLUTE.match(str(value)):
            return value
        return base / value

    config.logging.file = fix(config.logging.file)
    if isinstance(config, ServerConfig):
        config.jwt_secret_file = fix(config.jwt_secret_file)
        if config.smtp is not None:
            config.smtp.ca_file = fix(config.smtp.ca_file)
    if isinstance(config, NodeConfig):
        config.task_dir = fix(config.task_dir)
        config.server_ca_file = fix(config.server_ca_file)
        config.encryption.private_key = fix(config.encryption.private_key)
        for database in config.databases.values():
            if "://" not in database.uri:
                candidate = Path(database.uri)
                if not candidate.is_absolute() and not _WINDOWS_ABSOLUTE.match(database.uri):
                    database.uri = str(base / candidate)


def load_node_config(
    path: str | os.PathLike[str], *, environment: str | None = None, **overrides: Any
) -> NodeConfig:
    """Read, merge (overrides > ``V6_NODE_*`` env > file > defaults) and validate a node file."""
    return _load(NodeConfig, path, "V6_NODE_", environment, overrides)


def load_server_config(
    path: str | os.PathLike[str], *, environment: str | None = None, **overrides: Any
) -> ServerConfig:
    """Read, merge (overrides > ``V6_SERVER_*`` env > file > defaults), validate a server file."""
    return _load(ServerConfig, path, "V6_SERVER_", environment, overrides)
