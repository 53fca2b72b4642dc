"""``v6 test``: check a federation, run a script against one, or do both on a fresh network.

``feature-test`` runs the demo algorithm through a running federation and reports each
check (:mod:`v6lib.demo.feature_test`). ``client-script`` runs a Python script with a
logged-in ``client`` in its namespace (without a script: one task from
``--task-arguments``), optionally on a demo network it creates or starts first.
``integration-test`` creates a demo network, starts it, runs the feature test, and stops
and removes it again.
"""

from __future__ import annotations

import json
import runpy
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from v6lib import errors
from v6lib.cli._configs import fail
from v6lib.cli._refused import refused_options

__all__ = ["test"]

DEFAULT_NETWORK = "demo"


@click.group()
def test() -> None:
    """Test a federation: the demo algorithm end to end, or your own client script."""


def _login(host: str, port: int, api_path: str, username: str, password: str,
           mfa_code: str | None = None, private_key: str | None = None) -> Any:
    from v6lib.client import Client

    client = Client(host, port, api_path, trust_file=None)
    client.authenticate(username, password, mfa_code=mfa_code)
    if private_key:
        client.setup_encryption(private_key)
    return client


def _network_login(name: str) -> Any:
    from v6lib.demo.network import DemoNetwork

    network = DemoNetwork.load(name)
    return _login("http://127.0.0.1", network.port, "/api", network.username,
                  network.password)


def _feature_test(client: Any, **options: Any) -> bool:
    from v6lib.demo.feature_test import FeatureTest, FeatureTestOptions

    done = FeatureTest(client, FeatureTestOptions(**options), echo=click.echo)
    ok = done.run()
    failed = sum(1 for c in done.checks if not c.ok)
    click.echo(f"feature test {'passed' if ok else 'FAILED'}: {len(done.checks) - failed} "
               f"of {len(done.checks)} checks ok")
    return ok


@test.command("feature-test")
@click.option("-n", "--name", default=None,
              help="A demo network to test, logged in as its dev_admin (the default when "
                   f"no --password is given: {DEFAULT_NETWORK!r}).")
@click.option("--host", default="http://localhost", show_default=True,
              help="URL of the server.")
@click.option("--port", type=int, default=7601, show_default=True)
@click.option("--api-path", default="/api", show_default=True)
@click.option("--username", default="dev_admin", show_default=True)
@click.option("--password", envvar="V6_PASSWORD", default=None,
              help="Password (env V6_PASSWORD); without it, -n's network is used.")
@click.option("--mfa-code", default=None, help="Two-factor code, when the account has one.")
@click.option("--private-key", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Your organization's private key, for an encrypted collaboration.")
@click.option("--collaboration", type=int, default=None,
              help="Collaboration id (default: the only one the user sees).")
@click.option("-o", "--organizations", type=int, multiple=True,
              help="Organization id to test (repeatable; default: all of the "
                   "collaboration).")
@click.option("--all-nodes", is_flag=True, help="Test every organization of the "
                                                "collaboration (the default).")
@click.option("--online-only", is_flag=True, help="Skip organizations whose node is offline.")
@click.option("--no-vpn", is_flag=True, help="Accepted for vantage6 scripts: v6lib has no "
                                             "VPN, so there are no VPN checks to skip.")
@click.option("--image", default="v6-average:latest", show_default=True)
@click.option("--column", default="age", show_default=True,
              help="Numeric column of the nodes' default database to average.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for each task.")
def feature_test(name: str | None, host: str, port: int, api_path: str, username: str,
                 password: str | None, mfa_code: str | None, private_key: str | None,
                 collaboration: int | None, organizations: tuple[int, ...],
                 all_nodes: bool, online_only: bool, no_vpn: bool, image: str, column: str,
                 timeout: float) -> None:
    """Run the demo algorithm through a running federation and report every check."""
    if all_nodes and organizations:
        raise click.UsageError("give --all-nodes or --organizations, not both")
    try:
        client = (_login(host, port, api_path, username, password, mfa_code, private_key)
                  if password and not name else _network_login(name or DEFAULT_NETWORK))
        ok = _feature_test(client, collaboration=collaboration, organizations=organizations,
                           online_only=online_only, image=image, column=column,
                           timeout=timeout)
    except errors.V6Error as exc:
        fail(exc)
        return
    sys.exit(0 if ok else 1)


@contextmanager
def _network_for_test(name: str, create: bool, start: bool, keep: bool,
                      spec: dict[str, Any]) -> Iterator[None]:
    """Create and/or start demo network ``name`` around a test; undo it unless ``keep``."""
    from v6lib.cli import _configs
    from v6lib.cli.dev import remove_network, start_network, stop_network
    from v6lib.demo.network import DemoNetwork, NetworkSpec, create_network

    if create:
        create_network(NetworkSpec(name=name, **spec), _configs.config_dir("server"),
                       _configs.config_dir("node"))
        click.echo(f"created demo network {name!r}")
    network = DemoNetwork.load(name)
    if create or start:
        start_network(network, timeout=60.0)
    try:
        yield
    finally:
        if not keep and (create or start):
            stop_network(network)
        if not keep and create:
            for line in remove_network(network):
                click.echo(line)


def _default_script(task_arguments: dict[str, Any] | None) -> Callable[[dict[str, Any]], None]:
    """Without --script: one task (the demo average unless --task-arguments say otherwise)
    on every organization's node, which must all complete."""

    def run(namespace: dict[str, Any]) -> None:
        client = namespace["client"]
        arguments = {"collaboration": namespace["collaboration_id"],
                     "organizations": namespace["organization_ids"],
                     "image": "v6-average:latest", "name": "v6 test client-script",
                     "input_": {"method": "partial_average", "kwargs": {"column": "age"}},
                     **(task_arguments or {})}
        task = client.task.create(**arguments)
        results = client.wait_for_results(int(task["id"]), timeout=300)
        click.echo(f"task {task['id']}: {len(results)} result(s): {results}")

    return run


def _run_script(script: Path | None, task_arguments: dict[str, Any] | None,
                client: Any) -> int:
    collaborations = client.collaboration.list(all_pages=True)
    first = collaborations[0] if collaborations else {}
    namespace: dict[str, Any] = {
        "client": client, "task_arguments": task_arguments,
        "collaboration_id": first.get("id"),
        "organization_ids": sorted(first.get("organization_ids", [])),
        "__name__": "__main__"}
    try:
        if script is None:
            _default_script(task_arguments)(namespace)
        else:
            runpy.run_path(str(script), init_globals=namespace, run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except errors.V6Error as exc:  # already says which run failed and why
        click.echo(f"error: {exc.message}", err=True)
        return 1
    except Exception:  # the script's own failure: reported, not raised
        traceback.print_exc()
        return 1
    return 0


@test.command("client-script")
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Python script to run; it finds a logged-in `client`, "
                                 "`collaboration_id`, `organization_ids` and "
                                 "`task_arguments` in its namespace.")
@click.option("--task-arguments", default=None,
              help="JSON arguments of client.task.create for the built-in script "
                   "(instead of --script).")
@click.option("--create-dev-network", is_flag=True, help="Create (and start) the network.")
@click.option("--start-dev-network", is_flag=True, help="Start the network first.")
@click.option("-n", "--name", default=DEFAULT_NETWORK, show_default=True,
              help="The demo network to run against.")
@click.option("--server-url", default="http://127.0.0.1", show_default=True,
              help="Where the nodes of a created network reach the server.")
@click.option("-p", "--server-port", type=int, default=7601, show_default=True,
              help="Port of a created network's server.")
@click.option("--keep", type=bool, default=False, show_default=True,
              help="Keep a network created or started here afterwards (true/false).")
@click.option("--add-dataset", type=(str, click.Path(exists=True, path_type=Path)),
              multiple=True, metavar="LABEL PATH", help="A database for a created network.")
@refused_options("test client-script")
def client_script(script: Path | None, task_arguments: str | None, create_dev_network: bool,
                  start_dev_network: bool, name: str, server_url: str, server_port: int,
                  keep: bool, add_dataset: tuple[tuple[str, Path], ...]) -> None:
    """Run a client script against a demo network; exit 0 when it passes."""
    if script and task_arguments:
        raise click.UsageError("--script and --task-arguments cannot be given together")
    try:
        arguments = json.loads(task_arguments) if task_arguments else None
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"--task-arguments must be JSON: {exc}") from None
    spec = {"server_url": server_url, "server_port": server_port, "datasets": add_dataset}
    try:
        with _network_for_test(name, create_dev_network, start_dev_network, keep, spec):
            code = _run_script(script, arguments, _network_login(name))
    except errors.V6Error as exc:
        fail(exc)
        return
    click.echo("test passed" if code == 0 else f"test FAILED (exit code {code})")
    sys.exit(code)


@test.command("integration-test")
@click.option("-n", "--name", default="integration-test", show_default=True,
              help="Name of the demo network created for the test.")
@click.option("--server-url", default="http://127.0.0.1", show_default=True)
@click.option("-p", "--server-port", type=int, default=7601, show_default=True)
@click.option("--runtime", type=click.Choice(["process", "docker"]), default="process",
              show_default=True)
@click.option("--keep", type=bool, default=False, show_default=True,
              help="Keep the network afterwards (true/false).")
@click.option("--extra-server-config", type=click.Path(exists=True, dir_okay=False,
                                                       path_type=Path))
@click.option("--extra-node-config", type=click.Path(exists=True, dir_okay=False,
                                                     path_type=Path))
@refused_options("test integration-test")
def integration_test(name: str, server_url: str, server_port: int, runtime: str,
                     keep: bool, extra_server_config: Path | None,
                     extra_node_config: Path | None) -> None:
    """Create a demo network, start it, run the feature test on it, stop and remove it."""
    from v6lib.cli.dev import read_extra

    try:
        spec = {"server_url": server_url, "server_port": server_port, "runtime": runtime,
                "extra_server_config": read_extra(extra_server_config, "extra server config"),
                "extra_node_config": read_extra(extra_node_config, "extra node config")}
        with _network_for_test(name, True, True, keep, spec):
            ok = _feature_test(_network_login(name))
    except errors.V6Error as exc:
        fail(exc)
        return
    sys.exit(0 if ok else 1)
