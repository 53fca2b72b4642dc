"""Where ``v6 server`` and ``v6 node`` keep their configuration files, and how they fail.

Two places, as vantage6 has them: the per-user directory
``$XDG_CONFIG_HOME/v6lib/<kind>`` (``~/.config`` when unset) and the system-wide one
``<first of $XDG_CONFIG_DIRS>/v6lib/<kind>`` (``/etc/xdg/v6lib/<kind>`` when unset).
``--user`` and ``--system`` pick one; without either, a name is looked up in the user
directory first and then in the system directory, and new files go to the user one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

import click

from v6lib import errors

__all__ = ["Kind", "config_dir", "config_dirs", "fail", "list_configs", "resolve_config",
           "system_config_dir", "user_config_dir"]

Kind = Literal["server", "node"]
SUFFIXES = (".yaml", ".yml")


def user_config_dir(kind: Kind) -> Path:
    """``$XDG_CONFIG_HOME/v6lib/<kind>`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base, "v6lib", kind)


def system_config_dir(kind: Kind) -> Path:
    """``<first of $XDG_CONFIG_DIRS>/v6lib/<kind>`` (``/etc/xdg`` when unset)."""
    first = (os.environ.get("XDG_CONFIG_DIRS") or "").split(os.pathsep)[0]
    return Path(first or "/etc/xdg", "v6lib", kind)


def config_dir(kind: Kind, system: bool = False) -> Path:
    """Where a new configuration goes: the user directory unless ``system``."""
    return system_config_dir(kind) if system else user_config_dir(kind)


def config_dirs(kind: Kind, system: bool | None = None) -> list[Path]:
    """The directories searched: one of them when ``system`` is given, else both."""
    if system is None:
        return [user_config_dir(kind), system_config_dir(kind)]
    return [config_dir(kind, system)]


def list_configs(kind: Kind, system: bool | None = None) -> list[Path]:
    """Every configuration file in the searched directories (a user file hides a system
    file of the same name)."""
    found: dict[str, Path] = {}
    for directory in config_dirs(kind, system):
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix in SUFFIXES and path.is_file():
                found.setdefault(path.stem, path)
    return sorted(found.values(), key=lambda p: p.stem)


def _is_path(name: str) -> bool:
    return Path(name).suffix in SUFFIXES or os.sep in name or Path(name).exists()


def resolve_config(kind: Kind, name: str, system: bool | None = None) -> Path:
    """A config by file path, or by name in the config directories.

    A name that is found nowhere resolves to where it would be in the first searched
    directory, so that loading it says plainly that the file does not exist.
    """
    if _is_path(name):
        return Path(name)
    directories = config_dirs(kind, system)
    for directory in directories:
        for suffix in SUFFIXES:
            candidate = directory / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    return directories[0] / f"{name}.yaml"


def fail(exc: errors.V6Error) -> None:
    """Print the error's message and exit with its exit code."""
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(exc.exit_code)
