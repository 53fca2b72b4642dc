"""``v6 server``: configurations and the life of a server (new, start, stop, list, attach,
files, remove, version); the commands on its database are in ``server_db``.

Configurations live in the per-user directory (``$XDG_CONFIG_HOME/v6lib/server``) or the
system-wide one (``/etc/xdg/v6lib/server``); every command selects one by ``NAME``,
``-n/--name`` or ``-c/--config`` (see ``_select``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import requests
import yaml

from v6lib import errors
from v6lib.cli import _configs
from v6lib.cli._configs import fail
from v6lib.cli._instance import Instance, load_instance, start_detached
from v6lib.cli._instance_commands import (
    attach_command,
    files_command,
    list_command,
    remove_command,
    stop_command,
    version_command,
)
from v6lib.cli._refused import refused_options
from v6lib.cli._select import Selection, scope_options, select_config
from v6lib.cli.server_db import import_cmd, reset_password, rotate_key, shell
from v6lib.pid_files import read_pid
from v6lib.private_files import write_private

__all__ = ["api_url", "config_dir", "healthy", "server", "start_in_background"]

_ANY_ADDRESS = ("0.0.0.0", "::", "")


def config_dir() -> Path:
    return _configs.config_dir("server")


def api_url(instance: Instance) -> str:
    """Where this machine reaches the server's API."""
    config = instance.config
    host = "127.0.0.1" if config.host in _ANY_ADDRESS else config.host
    return f"http://{host}:{config.port}{config.api_path}"


def healthy(url: str) -> bool:
    """Whether the API at ``url`` answers its health check."""
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start_in_background(instance: Instance, *, timeout: float,
                        extra: Sequence[str] = ()) -> int:
    """Start the server detached; its pid once it wrote its pid file and is healthy."""
    url = api_url(instance)
    return start_detached(
        instance, extra, timeout=timeout,
        ready=lambda pid: read_pid(instance.pid_file) == pid and healthy(url))


@click.group()
def server() -> None:
    """Run the central server."""


@server.command("new")
@click.option("-n", "--name", prompt="Server name", help="Name of the new configuration.")
@scope_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7601, show_default=True, type=int)
@click.option("--uri", default=None, help="Database URL (default: SQLite in the data dir).")
@click.option("--root-username", default="root", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the file (default: the user config directory).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def new(name: str, system: bool | None, host: str, port: int, uri: str | None,
        root_username: str, output: Path | None, force: bool) -> None:
    """Write a new server configuration file (user directory; --system: system-wide)."""
    target = output or _configs.config_dir("server", bool(system)) / f"{name}.yaml"
    if target.exists() and not force:
        fail(errors.ConfigurationError(f"{target} exists; pass --force to overwrite"))
    data: dict[str, Any] = {"name": name, "host": host, "port": port,
                            "root_username": root_username}
    if uri:
        data["uri"] = uri
    # 0600: the file will hold the database URL's password, root_password, smtp.password
    write_private(target, yaml.safe_dump(data, sort_keys=False))
    click.echo(f"wrote {target}")


@server.command("start")
@select_config("server")
@click.option("--ip", default=None, help="Address to bind (overrides host).")
@click.option("-p", "--port", type=int, default=None, help="Port (overrides port).")
@click.option("--workers", type=int, default=None, help="Gunicorn worker processes.")
@click.option("--threads", type=int, default=None, help="Threads per worker.")
@click.option("--dev", is_flag=True, help="One process, no gunicorn (development only).")
@click.option("--attach/--detach", default=False,
              help="Run in the foreground with the log on this terminal (Ctrl+C stops it). "
                   "Default: start in the background, log to <data dir>/server.log.")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds a background start may take to answer /health.")
@refused_options("server start")
def start(selection: Selection, ip: str | None, port: int | None, workers: int | None,
          threads: int | None, dev: bool, attach: bool, timeout: float) -> None:
    """Start the server: in the background (default) or attached to this terminal."""
    overrides = {key: value for key, value in (("host", ip), ("port", port)) if value}
    try:
        instance = load_instance(selection, **overrides)
        if attach:
            _run_attached(instance, workers, threads, dev)
            return
        extra = [*(["--ip", ip] if ip else []), *(["--port", str(port)] if port else []),
                 *(["--workers", str(workers)] if workers else []),
                 *(["--threads", str(threads)] if threads else []), *(["--dev"] if dev else [])]
        pid = start_in_background(instance, timeout=timeout, extra=extra)
    except errors.V6Error as exc:
        fail(exc)
        return
    click.echo(f"server '{instance.name}' runs in the background (pid {pid}) at "
               f"{api_url(instance)}\n"
               f"  log:  {instance.log_file}  (v6 server attach -n {instance.name})\n"
               f"  stop: v6 server stop -n {instance.name}")


def _run_attached(instance: Instance, workers: int | None, threads: int | None,
                  dev: bool) -> None:
    from v6lib.server.runner import run_dev, run_gunicorn

    running = instance.pid()
    if running:
        raise errors.ConflictError(f"server '{instance.name}' is already running "
                                   f"(pid {running})")
    config = instance.config
    if dev:
        run_dev(config, pid_file=instance.pid_file)
    else:
        run_gunicorn(config, instance.path, workers=workers or config.workers,
                     threads=threads or config.threads, pid_file=instance.pid_file)


def _row(instance: Instance) -> str:
    return (f"{instance.name:20} {instance.state():20} {instance.scope:6} {api_url(instance):32} "
            f"{instance.path}")


def _details(instance: Instance) -> list[tuple[str, Any]]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    config = instance.config
    try:
        database = make_url(str(config.uri)).render_as_string(hide_password=True)
    except ArgumentError:
        database = "(not a database URL)"
    return [("data directory", instance.run_dir), ("database", database),
            ("signing key", "(in the configuration)" if config.jwt_secret_key
             else config.jwt_secret_path)]


def _forget(instance: Instance) -> list[str]:
    return [f"kept the data directory {instance.run_dir} (database, token signing key); "
            "delete it yourself when nothing in it is needed any more"]


server.add_command(stop_command("server"))
server.add_command(list_command("server", _row))
server.add_command(attach_command("server"))
server.add_command(files_command("server", _details))
server.add_command(remove_command("server", _forget, "its configuration file and log"))
server.add_command(version_command("server", api_url))
for _command in (import_cmd, reset_password, rotate_key, shell):
    server.add_command(_command)
