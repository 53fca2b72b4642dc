"""``v6 node``: write a node config, start/stop the node daemon, list configs, create its key.

Configs live in the per-user config directory (``$XDG_CONFIG_HOME/v6lib/node``);
every command also takes a path to a config file instead of a name.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

import click
import yaml

from v6lib import errors
from v6lib.cli import _configs
from v6lib.cli._configs import fail, resolve_config
from v6lib.private_files import write_private

__all__ = ["config_dir", "node"]

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def config_dir() -> Path:
    return _configs.config_dir("node")


def _resolve(name: str) -> Path:
    return resolve_config("node", name)


def _load(name: str) -> Any:
    from v6lib.config import load_node_config

    return load_node_config(_resolve(name))


def _pid_file(config: Any) -> Path:
    return Path(config.task_dir) / "node.pid"




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
@click.option("--name", prompt="Node name", help="Name of the new configuration.")
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
def new(name: str, api_key: str, server_url: str, port: int, api_path: str,
        databases: tuple[str, ...], task_dir: Path | None, runtime: str, encryption: bool,
        private_key: Path | None, allowed_images: tuple[str, ...],
        allowed_algorithms: tuple[str, ...], target: Path | None, force: bool) -> None:
    """Write a node configuration file."""
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
    path = target or config_dir() / f"{name}.yaml"
    if path.exists() and not force:
        fail(errors.ConfigurationError(f"{path} exists; pass --force to overwrite it"))
    # holds the API key: 0600 also when --force replaces an older, wider file
    write_private(path, yaml.safe_dump(data, sort_keys=False))
    try:
        _load(str(path))
    except errors.V6Error as exc:
        fail(exc)
    click.echo(f"wrote {path}")


@node.command("start")
@click.option("--config", "name", required=True, help="Config file or name.")
def start(name: str) -> None:
    """Start the node in the foreground (SIGTERM/SIGINT stop it cleanly)."""
    from v6lib.node.daemon import Node
    from v6lib.node.options import NodeOptions

    try:
        config = _load(name)
        _setup_logging(config)
        options = NodeOptions.from_config(config)
        daemon = Node(options)
    except errors.V6Error as exc:
        fail(exc)
        return
    pid_file = options.pid_file
    pid_file.write_text(str(os.getpid()))

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("v6lib.node").info("signal %d: stopping", signum)
        daemon.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        daemon.serve()
    except errors.V6Error as exc:
        fail(exc)
    finally:
        pid_file.unlink(missing_ok=True)


@node.command("stop")
@click.option("--config", "name", required=True, help="Config file or name.")
def stop(name: str) -> None:
    """Ask a running node to stop (SIGTERM to the pid in its pid file)."""
    try:
        config = _load(name)
    except errors.V6Error as exc:
        fail(exc)
        return
    pid_file = _pid_file(config)
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        fail(errors.NotFoundError(f"node '{config.name}' is not running (no {pid_file})"))
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        fail(errors.NotFoundError(f"node '{config.name}' is not running (stale pid {pid})"))
    click.echo(f"sent SIGTERM to node '{config.name}' (pid {pid})")


@node.command("list")
def list_() -> None:
    """List node configurations in the user config directory."""
    directory = config_dir()
    files = sorted(directory.glob("*.yaml")) if directory.exists() else []
    if not files:
        click.echo(f"no node configurations in {directory}")
        return
    for path in files:
        try:
            config = _load(str(path))
        except errors.V6Error as exc:
            click.echo(f"{path.stem:20} invalid: {exc.message.splitlines()[0]}")
            continue
        running = "running" if _pid_file(config).exists() else "stopped"
        click.echo(f"{config.name:20} {config.server_api_url:40} {config.runtime:8} {running}")


@node.command("create-private-key")
@click.option("--config", "name", required=True, help="Config file or name.")
@click.option("--upload", is_flag=True, help="Upload the public key with the node's API key.")
@click.option("--force", is_flag=True, help="Replace an existing key file.")
def create_private_key(name: str, upload: bool, force: bool) -> None:
    """Generate the organization's private key (saved 0600) and optionally upload it."""
    from v6lib.crypto import fingerprint, generate_private_key, public_key_b64, save_private_key

    try:
        config = _load(name)
        path = Path(config.encryption.private_key or Path(config.task_dir) / "private_key.pem")
        if path.exists() and not force:
            raise errors.ConfigurationError(
                f"{path} exists; pass --force to replace it (data sealed for the old key "
                "can then no longer be read)")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = generate_private_key()
        save_private_key(key, path)
        click.echo(f"saved private key to {path}\nfingerprint {fingerprint(key)}\n"
                   "(give this fingerprint to the other organizations out of band: their "
                   "clients and nodes ask for it when your key changes)")
        if config.encryption.private_key is None:
            click.echo("set encryption.private_key in the node configuration to this path")
        if upload:
            org_id = _upload_public_key(config, public_key_b64(key))
            click.echo(f"uploaded the public key of organization {org_id}")
    except errors.V6Error as exc:
        fail(exc)


def _upload_public_key(config: Any, key_b64: str) -> int:
    from v6lib.client.transport import Transport
    from v6lib.node.options import NodeOptions
    from v6lib.node.server_link import ServerLink

    options = NodeOptions.from_config(config)
    link = ServerLink(Transport(options.server_api_url), options.api_key)
    node_id = link.login()
    org_id = int(link.node(node_id)["organization_id"])
    link.set_public_key(org_id, key_b64)
    return org_id
