"""Which configuration a command works on: ``NAME``, ``-n/--name``, ``-c/--config``,
``--system/--user``, the same way in every ``v6 server`` and ``v6 node`` command.

vantage6 selects with ``-n/--name`` (plus ``--system``/``--user``) and takes a file path
with ``-c/--config``; v6lib's earlier forms, a positional ``NAME`` and ``--config`` given
a name, keep working. Without any of them the one configuration there is is used, and
with several the error lists them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from v6lib import errors
from v6lib.cli._configs import Kind, config_dirs, list_configs, resolve_config

__all__ = ["Selection", "scope_options", "select_config"]


@dataclass(frozen=True)
class Selection:
    """What the user named; :meth:`path` finds the file."""

    kind: Kind
    target: str | None
    system: bool | None

    def path(self) -> Path:
        """The configuration file (which may not exist: loading it then says so).

        Raises:
            ConfigurationError: nothing was named and there is not exactly one file.
        """
        if self.target:
            return resolve_config(self.kind, self.target, self.system)
        found = list_configs(self.kind, self.system)
        if len(found) == 1:
            return found[0]
        where = " or ".join(str(d) for d in config_dirs(self.kind, self.system))
        if not found:
            raise errors.ConfigurationError(
                f"no {self.kind} configuration in {where}; create one with "
                f"`v6 {self.kind} new` or give a file with -c/--config PATH")
        names = ", ".join(p.stem for p in found)
        raise errors.ConfigurationError(
            f"several {self.kind} configurations ({names}); choose one with -n/--name NAME")


def scope_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--system``/``--user``: which configuration directory (default: user, then system)."""
    fn = click.option("--user", "system", flag_value=False, default=None,
                      help="Use the per-user configuration directory only.")(fn)
    return click.option("--system", "system", flag_value=True, default=None,
                        help="Use the system-wide configuration directory only.")(fn)


def select_config(kind: Kind, *, positional: bool = True) -> Callable[..., Any]:
    """Decorate a command so that it receives ``selection: Selection``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, name_arg: str | None = None, name: str | None = None,
                    config: str | None = None, system: bool | None = None,
                    **kwargs: Any) -> Any:
            names = {value for value in (name_arg, name) if value}
            if len(names) > 1:
                raise click.UsageError("name the configuration once: NAME or -n/--name")
            # NOTE: as in vantage6, a file given with -c/--config overrides the name
            target = config or next(iter(names), None)
            return fn(*args, selection=Selection(kind, target, system), **kwargs)

        command = scope_options(wrapper)
        command = click.option("-c", "--config", default=None, metavar="PATH",
                               help="Configuration file (a name works too).")(command)
        command = click.option("-n", "--name", default=None,
                               help=f"Name of the {kind} configuration.")(command)
        if positional:
            command = click.argument("name_arg", metavar="[NAME]", required=False)(command)
        return command

    return decorate
