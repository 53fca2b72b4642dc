"""``v6 dev``: a demo network that stays, for developing and testing against.

``create-demo-network`` writes a server configuration ``NAME`` and node configurations
``NAME_node_1`` ... (see :mod:`v6lib.demo.network`), ``start-demo-network`` starts them in
the background exactly as ``v6 server start`` and ``v6 node start`` do and waits until
every node is online, ``stop-demo-network`` stops them, ``remove-demo-network`` deletes
everything again. In between, ``v6 server``/``v6 node`` commands work on them by name.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import yaml

from v6lib import errors
from v6lib.cli import _configs
from v6lib.cli._configs import fail
from v6lib.cli._instance import Instance, load_path, stop_instance
from v6lib.cli._instance_commands import remove_tree
from v6lib.cli._refused import refused_options
from v6lib.config.common import user_data_dir

__all__ = ["dev", "network_instances", "read_extra", "remove_network", "start_network",
           "stop_network"]

DEFAULT_NAME = "demo"


@click.group()
def dev() -> None:
    """Quickly manage a demo network: a server and several nodes with synthetic data."""


def read_extra(path: Path | None, what: str) -> dict[str, Any]:
    """The mapping in an --extra-*-config file (empty without one)."""
    if path is None:
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise errors.ConfigurationError(f"{path}: the {what} must be a mapping of keys")
    return data


def _network(name: str | None, config: str | None) -> Any:
    from v6lib.demo.network import DemoNetwork

    if config:
        name = load_path("server", Path(config)).name
    return DemoNetwork.load(name or DEFAULT_NAME)


def network_instances(network: Any) -> tuple[Instance, list[Instance]]:
    """The network's server and nodes, their configurations loaded."""
    return (load_path("server", network.server_config),
            [load_path("node", path) for path in network.node_configs])


def _selection(fn: Any) -> Any:
    fn = click.option("-c", "--config", default=None, metavar="PATH",
                      help="The network's server configuration file.")(fn)
    return click.option("-n", "--name", default=None,
                        help=f"Name of the demo network (default: {DEFAULT_NAME}).")(fn)


@dev.command("create-demo-network")
@click.option("-n", "--name", default=DEFAULT_NAME, show_default=True,
              help="Name of the network: its server configuration is NAME, its nodes "
                   "NAME_node_1, NAME_node_2, ...")
@click.option("--num-nodes", type=int, default=3, show_default=True)
@click.option("--server-url", default="http://127.0.0.1", show_default=True,
              help="Where the nodes reach the server.")
@click.option("-p", "--server-port", type=int, default=7601, show_default=True)
@click.option("--runtime", type=click.Choice(["process", "docker"]), default="process",
              show_default=True, help="How the nodes run algorithms.")
@click.option("--seed", type=int, default=6, show_default=True,
              help="Seed of the synthetic patient data.")
@click.option("--extra-server-config", type=click.Path(exists=True, dir_okay=False,
                                                       path_type=Path),
              help="YAML merged into the server configuration.")
@click.option("--extra-node-config", type=click.Path(exists=True, dir_okay=False,
                                                     path_type=Path),
              help="YAML merged into every node configuration.")
@click.option("--add-dataset", type=(str, click.Path(exists=True, path_type=Path)),
              multiple=True, metavar="LABEL PATH",
              help="Give every node this database too (repeatable).")
@refused_options("dev create-demo-network")
def create(name: str, num_nodes: int, server_url: str, server_port: int, runtime: str,
           seed: int, extra_server_config: Path | None, extra_node_config: Path | None,
           add_dataset: tuple[tuple[str, Path], ...]) -> None:
    """Create a demo network: a server and NUM_NODES nodes, each with its own synthetic
    patient table, a collaboration of all of them and a user dev_admin."""
    from v6lib.demo.network import NetworkSpec, create_network

    try:
        spec = NetworkSpec(
            name=name, num_nodes=num_nodes, server_port=server_port, server_url=server_url,
            runtime=runtime, seed=seed,
            extra_server_config=read_extra(extra_server_config, "extra server configuration"),
            extra_node_config=read_extra(extra_node_config, "extra node configuration"),
            datasets=add_dataset)
        network = create_network(spec, _configs.config_dir("server"),
                                 _configs.config_dir("node"))
    except errors.V6Error as exc:
        fail(exc)
        return
    click.echo(f"created demo network {name!r}:\n  server  {network.server_config}")
    for path in network.node_configs:
        click.echo(f"  node    {path}")
    click.echo(f"  user    {network.username} (password in "
               f"{user_data_dir('dev', name) / 'network.yaml'})\n"
               f"start it with: v6 dev start-demo-network -n {name}")


def start_network(network: Any, timeout: float) -> None:
    """Start the network's server and nodes (those not running) and wait for the nodes."""
    from v6lib.cli.node import start_in_background as start_node
    from v6lib.cli.server import start_in_background as start_server
    from v6lib.demo.locate import average_example_path

    server, nodes = network_instances(network)
    if server.pid() is None:
        start_server(server, timeout=timeout)
    click.echo(f"server  {server.name}: {server.state()}")
    env = {}
    example = average_example_path() if network.runtime == "process" else None
    if example is not None:
        env["PYTHONPATH"] = str(example)  # the process runtime imports v6_average
    for node in nodes:
        if node.pid() is None:
            start_node(node, timeout=timeout, env=env)
        click.echo(f"node    {node.name}: {node.state()}")
    _wait_online(network, len(nodes), timeout)


def _wait_online(network: Any, count: int, timeout: float) -> None:
    from v6lib.client import Client

    client = Client("http://127.0.0.1", network.port, "/api", trust_file=None)
    client.authenticate(network.username, network.password)
    deadline = time.monotonic() + timeout
    while True:
        nodes = client.node.list(all_pages=True)
        online = sum(1 for n in nodes if n.get("status") == "online")
        if online >= count:
            return
        if time.monotonic() > deadline:
            raise errors.ServerUnavailableError(
                f"{online} of {count} nodes online after {timeout:g} s; see their logs "
                f"(v6 node attach -n {network.name}_node_1)")
        time.sleep(0.5)


@dev.command("start-demo-network")
@_selection
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for the server and for the nodes to come online.")
@refused_options("dev start-demo-network")
def start(name: str | None, config: str | None, timeout: float) -> None:
    """Start a demo network's server and nodes in the background."""
    try:
        network = _network(name, config)
        start_network(network, timeout)
    except errors.V6Error as exc:
        fail(exc)
        return
    click.echo(f"demo network {network.name!r} is up at {network.api_url}: log in as "
               f"{network.username!r}; check it with `v6 test feature-test -n {network.name}`")


def stop_network(network: Any) -> None:
    """Stop the nodes, then the server (those that run)."""
    server, nodes = network_instances(network)
    for instance in [*nodes, server]:
        if instance.pid() is not None:
            pid = stop_instance(instance)
            click.echo(f"stopped {instance.kind} '{instance.name}' (pid {pid})")


@dev.command("stop-demo-network")
@_selection
def stop(name: str | None, config: str | None) -> None:
    """Stop a demo network's nodes and server."""
    try:
        stop_network(_network(name, config))
    except errors.V6Error as exc:
        fail(exc)


def remove_network(network: Any) -> list[str]:
    """Delete a stopped network's configurations and files; what was done, line by line.

    Raises:
        ConflictError: a server or node of it is running.
    """
    from v6lib.demo.network import network_dir

    server, nodes = network_instances(network)
    running = [i.name for i in [server, *nodes] if i.pid() is not None]
    if running:
        raise errors.ConflictError(
            f"demo network {network.name!r} is running ({', '.join(running)}); stop it "
            f"first with `v6 dev stop-demo-network -n {network.name}`")
    done = []
    for instance in [*nodes, server]:
        done.append(remove_tree(instance.run_dir))
        instance.path.unlink(missing_ok=True)
        done.append(f"removed {instance.path}")
    done.append(remove_tree(network_dir(network.name)))
    return done


@dev.command("remove-demo-network")
@_selection
def remove(name: str | None, config: str | None) -> None:
    """Delete a stopped demo network: its configurations, database, data and logs."""
    try:
        for line in remove_network(_network(name, config)):
            click.echo(line)
    except errors.V6Error as exc:
        fail(exc)
