"""``v6 node``: configurations and the life of a node daemon (new, start, stop, restart,
list, attach, files, remove, version); keys, API key and cleaning are in
``node_maintenance``.

Configurations live in the per-user directory (``$XDG_CONFIG_HOME/v6lib/node``) or the
system-wide one (``/etc/xdg/v6lib/node``); every command selects one by ``NAME``,
``-n/--name`` or ``-c/--config`` (see ``_select``).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import yaml

from v6lib import errors
from v6lib.cli import _configs
from v6lib.cli._configs import fail
from v6lib.cli._instance import (
    Instance,
    load_instance,
    load_path,
    start_detached,
    stop_instance,
)
from v6lib.cli._instance_commands import (
    attach_command,
    files_command,
    list_command,
    remove_command,
    remove_tree,
    running_instances,
    stop_command,
    version_command,
)
from v6lib.cli._refused import refused_options
from v6lib.cli._select import Selection, scope_options, select_config
from v6lib.cli.node_audit import audit
from v6lib.cli.node_maintenance import clean, create_private_key, set_api_key
from v6lib.pid_files import read_pid, remove_pid_file, write_pid_file
from v6lib.private_files import write_private

__all__ = ["config_dir", "node", "start_in_background"]

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def config_dir() -> Path:
    return _configs.config_dir("node")


def _setup_logging(config: Any) -> None:
    settings = config.logging
    handlers: list[logging.Handler] = []
    if settings.use_console:
        handlers.append(logging.StreamHandler())
    if settings.file:
        from v6lib.log_files import file_handler

        handlers.append(file_handler(settings))
    logging.basicConfig(level=settings.level, format=settings.format or LOG_FORMAT,
                        datefmt=settings.datefmt, handlers=handlers or None, force=True)
    # requests/urllib3 would log every long-poll; they add nothing for an operator.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


@click.group()
def node() -> None:
    """Run a data station (node) next to your data."""


@node.command("new")
@click.option("-n", "--name", prompt="Node name", help="Name of the new configuration.")
@scope_options
@click.option("--api-key", prompt="API key (from the server admin)", hide_input=True)
@click.option("--server-url", prompt="Server URL", default="http://localhost",
              show_default=True)
@click.option("--port", default=7601, show_default=True, type=int)
@click.option("--api-path", default="/api", show_default=True)
@click.option("--database", "databases", multiple=True, metavar="LABEL=PATH",
              help="A data source, e.g. default=/data/file.csv (repeatable).")
@click.option("--task-dir", type=click.Path(path_type=Path), default=None)
@click.option("--runtime", type=click.Choice(["docker", "process"]), default="docker",
              show_default=True)
@click.option("--encryption/--no-encryption", default=False, show_default=True)
@click.option("--private-key", type=click.Path(path_type=Path), default=None)
@click.option("--allowed-image", "allowed_images", multiple=True, metavar="REGEX",
              help="policies.allowed_images: a regular expression an image must fully "
                   "match (repeatable).")
@click.option("--allowed-algorithm", "allowed_algorithms", multiple=True, metavar="PATTERN",
              help="policies.allowed_algorithms, as vantage6 reads it: a regular expression "
                   "matched from the start, or an image name (repeatable).")
@click.option("--config", "target", type=click.Path(path_type=Path), default=None,
              help="Where to write the file (default: the user config directory).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def new(name: str, system: bool | None, api_key: str, server_url: str, port: int, api_path: str,
        databases: tuple[str, ...], task_dir: Path | None, runtime: str, encryption: bool,
        private_key: Path | None, allowed_images: tuple[str, ...],
        allowed_algorithms: tuple[str, ...], target: Path | None, force: bool) -> None:
    """Write a node configuration file (user directory; --system: system-wide)."""
    parsed: dict[str, str] = {}
    for item in databases:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise click.BadParameter(f"{item!r}: expected LABEL=PATH", param_hint="--database")
        parsed[label] = str(Path(path).expanduser().resolve()) if "://" not in path else path
    data: dict[str, Any] = {"name": name, "api_key": api_key, "server_url": server_url,
                            "port": port, "api_path": api_path, "runtime": runtime,
                            "databases": parsed,
                            "encryption": {"enabled": encryption}}
    if private_key is not None:
        data["encryption"]["private_key"] = str(private_key)
    if task_dir is not None:
        data["task_dir"] = str(task_dir)
    policies = {key: list(values) for key, values in (("allowed_images", allowed_images),
                                                       ("allowed_algorithms", allowed_algorithms))
                if values}
    if policies:
        data["policies"] = policies
    config_path = target or _configs.config_dir("node", bool(system)) / f"{name}.yaml"
    if config_path.exists() and not force:
        fail(errors.ConfigurationError(f"{config_path} exists; pass --force to overwrite it"))
    # holds the API key: 0600 also when --force replaces an older, wider file
    write_private(config_path, yaml.safe_dump(data, sort_keys=False))
    try:
        load_path("node", config_path)
    except errors.V6Error as exc:
        fail(exc)
    click.echo(f"wrote {config_path}")


START_TIMEOUT = 30.0


def _start_options(fn: Any) -> Any:
    fn = refused_options("node start")(fn)
    fn = click.option("--timeout", type=float, default=START_TIMEOUT, show_default=True,
                      help="Seconds a background start may take.")(fn)
    return click.option(
        "--attach/--detach", default=False,
        help="Run in the foreground with the log on this terminal (SIGTERM/Ctrl+C stop "
             "it). Default: start in the background, log to <task dir>/node.log.")(fn)


@node.command("start")
@select_config("node")
@_start_options
def start(selection: Selection, attach: bool, timeout: float) -> None:
    """Start the node: in the background (default) or attached to this terminal."""
    try:
        instance = load_instance(selection)
        if attach:
            _run_attached(instance)
            return
        pid = start_in_background(instance, timeout=timeout)
    except errors.V6Error as exc:
        fail(exc)
        return
    _started(instance, pid)


def start_in_background(instance: Instance, *, timeout: float = START_TIMEOUT,
                        env: Mapping[str, str] | None = None) -> int:
    """Start the node detached; its pid once it wrote its pid file."""
    return start_detached(instance, [], timeout=timeout, env=env,
                          ready=lambda pid: read_pid(instance.pid_file) == pid)


def _started(instance: Instance, pid: int) -> None:
    click.echo(f"node '{instance.name}' runs in the background (pid {pid}), serving "
               f"{instance.config.server_api_url}\n"
               f"  log:  {instance.log_file}  (v6 node attach -n {instance.name})\n"
               f"  stop: v6 node stop -n {instance.name}")


def _run_attached(instance: Instance) -> None:
    """The daemon in this process until SIGTERM/SIGINT."""
    from v6lib.node.daemon import Node
    from v6lib.node.options import NodeOptions
    from v6lib.node.supervisor import log_uncaught_thread_exceptions

    running = instance.pid()
    if running:
        raise errors.ConflictError(f"node '{instance.name}' is already running "
                                   f"(pid {running})")
    _setup_logging(instance.config)
    log_uncaught_thread_exceptions()
    options = NodeOptions.from_config(instance.config)
    daemon = Node(options)
    write_pid_file(options.pid_file)

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("v6lib.node").info("signal %d: stopping", signum)
        daemon.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        daemon.serve()
    finally:
        remove_pid_file(options.pid_file)


@node.command("restart")
@select_config("node")
@click.option("--all", "all_", is_flag=True, help="Restart every running node.")
@click.option("--force", is_flag=True, help="Kill the nodes at once instead of a clean stop.")
@_start_options
def restart(selection: Selection, all_: bool, force: bool, attach: bool,
            timeout: float) -> None:
    """Stop a node (if it runs) and start it again with its current configuration."""
    try:
        instances = running_instances("node", selection.system) if all_ else [
            load_instance(selection)]
        if attach and len(instances) != 1:
            raise click.UsageError("--attach restarts one node; name it with -n/--name")
        for instance in instances:
            if instance.pid():
                pid = stop_instance(instance, force=force)
                click.echo(f"stopped node '{instance.name}' (pid {pid})")
            instance = load_path("node", instance.path)  # re-read: the file may have changed
            if attach:
                _run_attached(instance)
            else:
                _started(instance, start_in_background(instance, timeout=timeout))
    except errors.V6Error as exc:
        fail(exc)


def _row(instance: Instance) -> str:
    config = instance.config
    return (f"{config.name:20} {config.server_api_url:40} {config.runtime:8} "
            f"{instance.state():20} {instance.scope}")


def _details(instance: Instance) -> list[tuple[str, Any]]:
    config = instance.config
    rows: list[tuple[str, Any]] = [("task directory", instance.run_dir),
                                   ("run journal", instance.run_dir / "node-journal.sqlite")]
    rows += [(f"database {label}", db.uri) for label, db in config.databases.items()]
    if config.encryption.private_key:
        rows.append(("private key", config.encryption.private_key))
    return rows


def _remove_data(instance: Instance) -> list[str]:
    key = instance.config.encryption.private_key
    return [remove_tree(instance.run_dir, keep={key} if key else set())]


node.add_command(stop_command("node"))
node.add_command(list_command("node", _row))
node.add_command(attach_command("node"))
node.add_command(files_command("node", _details))
node.add_command(remove_command(
    "node", _remove_data, "its configuration file and its task directory (run journal, run "
    "files, log); never its private key"))
node.add_command(version_command("node", lambda instance: instance.config.server_api_url,
                                 lambda instance: instance.config.server_ca_file))
for _command in (create_private_key, set_api_key, clean, audit):
    node.add_command(_command)
