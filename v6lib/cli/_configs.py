"""Where ``v6 server`` and ``v6 node`` keep their configuration files, and how they fail."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

import click

from v6lib import errors

__all__ = ["config_dir", "fail", "resolve_config"]

Kind = Literal["server", "node"]


def config_dir(kind: Kind) -> Path:
    """``$XDG_CONFIG_HOME/v6lib/<kind>`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base, "v6lib", kind)


def resolve_config(kind: Kind, name: str) -> Path:
    """A config by file path, or by name in the user's config directory."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return config_dir(kind) / f"{name}.yaml"


def fail(exc: errors.V6Error) -> None:
    """Print the error's message and exit with its exit code."""
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(exc.exit_code)
