"""The ``v6`` console script: one click group, with a subgroup per component.

Subgroups live in their own modules and are imported lazily, so ``v6 algorithm new``
does not pay for importing the server or Docker.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["main"]

# command name -> "module:attribute" of a click command or group
_SUBCOMMANDS: dict[str, str] = {
    "server": "v6lib.cli.server:server",
    "node": "v6lib.cli.node:node",
    "algorithm": "v6lib.cli.algorithm:algorithm",
    "task": "v6lib.cli.task:task",
    "demo": "v6lib.cli.demo:demo",
    "trust": "v6lib.cli.trust:trust",
    "dev": "v6lib.cli.dev:dev",
    "test": "v6lib.cli.diagnostics:test",
    "algorithm-store": "v6lib.cli._refused:algorithm_store",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=_LazyGroup)
@click.version_option(package_name="v6lib", prog_name="v6")
def main() -> None:
    """v6lib: run federated analyses on data that stays where it is."""
