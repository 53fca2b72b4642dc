"""Every command path of vantage6 4.15.2's ``v6``, and its options, exist here: implemented,
or refused with a reason (exit code 64). The lists are data taken from vantage6's CLI."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from v6lib.cli import main
from v6lib.cli._refused import REFUSED_COMMANDS

#: vantage6 4.15.2 ``v6`` command paths ("" is ``v6`` itself) -> their options.
VANTAGE6: dict[str, set[str]] = {
    "": set(),
    "server": set(),
    "server attach": {"-n", "--name", "--system", "--user"},
    "server files": {"-n", "--name", "-c", "--config", "--system", "--user"},
    "server import": {"--drop-all", "-i", "--image", "--mount-src", "--keep", "--auto-remove",
                      "--wait", "-n", "--name", "-c", "--config", "--system", "--user"},
    "server list": set(),
    "server new": {"-n", "--name", "--system", "--user"},
    "server remove": {"-n", "--name", "-c", "--config", "--system", "--user", "-f",
                      "--force"},
    "server shell": {"-n", "--name", "-c", "--config", "--system", "--user"},
    "server start": {"--ip", "-p", "--port", "-i", "--image", "--with-ui", "--ui-port",
                     "--with-rabbitmq", "--rabbitmq-image", "--with-prometheus",
                     "--prometheus-image", "--keep", "--auto-remove", "--mount-src",
                     "--attach", "--detach", "-n", "--name", "-c", "--config", "--system",
                     "--user"},
    "server stop": {"-n", "--name", "--system", "--user", "--all"},
    "server version": {"-n", "--name", "--system", "--user"},
    "node": set(),
    "node attach": {"-n", "--name", "--system", "--user"},
    "node clean": set(),
    "node create-private-key": {"-n", "--name", "-c", "--config", "--system", "--user",
                                "--no-upload", "-o", "--organization-name", "--overwrite",
                                "--mfa"},
    "node files": {"-n", "--name", "--system", "--user"},
    "node list": set(),
    "node new": {"-n", "--name", "--system", "--user"},
    "node remove": {"-n", "--name", "--system", "--user", "-f", "--force"},
    "node restart": {"-n", "--name", "--system", "--user", "-i", "--image", "--keep",
                     "--auto-remove", "--force-db-mount", "--attach", "--detach",
                     "--mount-src", "--all", "--force"},
    "node set-api-key": {"-n", "--name", "--api-key", "--system", "--user"},
    "node start": {"-i", "--image", "--keep", "--auto-remove", "--force-db-mount",
                   "--attach", "--detach", "--mount-src", "-n", "--name", "-c", "--config",
                   "--system", "--user"},
    "node stop": {"-n", "--name", "--system", "--user", "--all", "--force"},
    "node version": {"-n", "--name", "--system", "--user"},
    "dev": set(),
    "dev create-demo-network": {"-n", "--name", "--num-nodes", "--server-url", "-p",
                                "--server-port", "--ui-port", "--algorithm-store-port", "-i",
                                "--image", "--ui-image", "--extra-server-config",
                                "--extra-node-config", "--extra-store-config",
                                "--add-dataset"},
    "dev start-demo-network": {"-n", "--name", "-c", "--config", "--server-image",
                               "--node-image", "--store-image"},
    "dev stop-demo-network": {"-n", "--name", "-c", "--config"},
    "dev remove-demo-network": {"-n", "--name", "-c", "--config"},
    "algorithm": set(),
    "algorithm create": {"-n", "--name", "-d", "--dir", "--major-version"},
    "algorithm update": {"-d", "--dir", "--change-answers"},
    "test": set(),
    "test feature-test": {"--host", "--port", "--api-path", "--username", "--password",
                          "--collaboration", "-o", "--organizations", "--all-nodes",
                          "--online-only", "--no-vpn", "--private-key", "--mfa-code"},
    "test integration-test": {"-n", "--name", "--server-url", "-i", "--image", "--keep",
                              "--extra-server-config", "--extra-node-config"},
    "test client-script": {"--script", "--task-arguments", "--create-dev-network",
                           "--start-dev-network", "-n", "--name", "--server-url", "-i",
                           "--image", "--keep", "--add-dataset"},
    "algorithm-store": set(),
    "algorithm-store attach": {"-n", "--name", "--system", "--user"},
    "algorithm-store new": {"-n", "--name", "--system", "--user"},
    "algorithm-store start": {"--ip", "-p", "--port", "-i", "--image", "--keep",
                              "--mount-src", "--attach", "-n", "--name", "-c", "--config",
                              "--system", "--user"},
    "algorithm-store stop": {"-n", "--name", "-c", "--config", "--system", "--user", "--all"},
    "algorithm-store files": {"-n", "--name", "-c", "--config", "--system", "--user"},
    "algorithm-store list": set(),
    "algorithm-store remove": {"-n", "--name", "-c", "--config", "--system", "--user", "-f",
                               "--force"},
}

CLI_REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "cli.md"


def _paths() -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, path: list[str]) -> None:
        found[" ".join(path)] = command
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, f"v6 {' '.join([*path, name])} does not load"
                walk(sub, [*path, name])

    walk(main, [])
    return found


def test_vantage6_has_45_command_paths() -> None:
    assert len(VANTAGE6) == 45


def test_every_vantage6_path_is_implemented_or_refused() -> None:
    ours = _paths()
    missing = sorted(p for p in VANTAGE6 if p not in ours)
    assert not missing, f"vantage6 command paths missing here: {missing}"
    refused = {p for p in VANTAGE6 if p in REFUSED_COMMANDS}
    assert refused == {p for p in VANTAGE6 if p.startswith("algorithm-store")}
    implemented = set(VANTAGE6) - refused
    assert (len(implemented), len(refused)) == (37, 8)


@pytest.mark.parametrize("path", sorted(p for p in VANTAGE6 if p in REFUSED_COMMANDS))
def test_refused_paths_say_why_and_exit_64(path: str) -> None:
    result = CliRunner().invoke(main, [*path.split(), "-n", "x"] if " " in path
                                else path.split())
    assert result.exit_code == 64, result.output
    assert f"v6 {path}: not supported: " in result.output


@pytest.mark.parametrize("path", sorted(p for p in VANTAGE6 if p not in REFUSED_COMMANDS))
def test_implemented_paths_take_vantage6s_options(path: str) -> None:
    command = _paths()[path]
    ours = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    lacking = sorted(VANTAGE6[path] - ours)
    assert not lacking, f"v6 {path} lacks vantage6's options {lacking}"
    assert CliRunner().invoke(main, [*path.split(), "--help"]).exit_code == 0


def test_the_cli_reference_lists_every_command_path() -> None:
    text = CLI_REFERENCE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `v6 ?([a-z -]*)` \|", text, re.M))
    ours = set(_paths())
    assert not sorted(ours - documented), "undocumented commands"
    assert not sorted(documented - ours), "documented commands that do not exist"
