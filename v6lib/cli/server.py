"""``v6 server``: create a config, start/stop the server, import entities, list configs,
issue a recovery token, rotate the token signing key.

Configs live in the per-user config directory (``$XDG_CONFIG_HOME/v6lib/server``);
every command also takes a path to a config file instead of a name.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import yaml

from v6lib import errors
from v6lib.cli import _configs
from v6lib.cli._configs import fail, resolve_config
from v6lib.private_files import write_private

__all__ = ["config_dir", "server"]


def config_dir() -> Path:
    return _configs.config_dir("server")


def _resolve(name: str) -> Path:
    return resolve_config("server", name)


def _load(name: str) -> Any:
    from v6lib.config import load_server_config

    return load_server_config(_resolve(name))


def _pid_file(config: Any) -> Path:
    return Path(config.data_dir) / "server.pid"


@contextmanager
def _database(config: Any) -> Iterator[Any]:
    """A session on the server's database, migrated first; the caller commits."""
    from v6lib.server.db.engine import make_engine, make_session_factory
    from v6lib.server.db.migrate import upgrade_database

    engine = make_engine(str(config.uri))
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()




@click.group()
def server() -> None:
    """Run the central server."""


@server.command("new")
@click.option("--name", prompt="Server name", help="Name of the new configuration.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7601, show_default=True, type=int)
@click.option("--uri", default=None, help="Database URL (default: SQLite in the data dir).")
@click.option("--root-username", default="root", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the file (default: the user config directory).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def new(name: str, host: str, port: int, uri: str | None, root_username: str,
        output: Path | None, force: bool) -> None:
    """Write a new server configuration file."""
    target = output or config_dir() / f"{name}.yaml"
    if target.exists() and not force:
        fail(errors.ConfigurationError(f"{target} exists; pass --force to overwrite"))
    data: dict[str, Any] = {"name": name, "host": host, "port": port,
                            "root_username": root_username}
    if uri:
        data["uri"] = uri
    # 0600: the file will hold the database URL's password, root_password, smtp.password
    write_private(target, yaml.safe_dump(data, sort_keys=False))
    click.echo(f"wrote {target}")


@server.command("list")
def list_configs() -> None:
    """List the configurations in the user config directory."""
    found = sorted(config_dir().glob("*.yaml")) if config_dir().is_dir() else []
    if not found:
        click.echo(f"no server configurations in {config_dir()}")
    for path in found:
        click.echo(f"{path.stem}\t{path}")


@server.command("start")
@click.argument("name")
@click.option("--workers", type=int, default=None, help="Gunicorn worker processes.")
@click.option("--threads", type=int, default=None, help="Threads per worker.")
@click.option("--dev", is_flag=True, help="One process, no gunicorn (development only).")
def start(name: str, workers: int | None, threads: int | None, dev: bool) -> None:
    """Start the server in the foreground (Ctrl+C stops it)."""
    try:
        config = _load(name)
        from v6lib.server.runner import run_dev, run_gunicorn

        if dev:
            run_dev(config)
        else:
            run_gunicorn(config, _resolve(name), workers=workers or config.workers,
                         threads=threads or config.threads, pid_file=_pid_file(config))
    except errors.V6Error as exc:
        fail(exc)


@server.command("stop")
@click.argument("name")
def stop(name: str) -> None:
    """Stop a server started with ``v6 server start`` (via its pid file)."""
    try:
        config = _load(name)
    except errors.V6Error as exc:
        fail(exc)
        return
    pid_file = _pid_file(config)
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        fail(errors.ConfigurationError(f"server {config.name!r} is not running "
                                        f"(no pid file at {pid_file})"))
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        fail(errors.ConfigurationError(f"server {config.name!r} was not running "
                                        "(stale pid file removed)"))
    click.echo(f"stopping server {config.name!r} (pid {pid})")


@server.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "name", required=True, help="Server config name or path.")
def import_cmd(file: Path, name: str) -> None:
    """Import organizations, users and collaborations from a YAML FILE."""
    try:
        config = _load(name)
        from v6lib.server.importer import import_file

        with _database(config) as session:
            report = import_file(session, file, password_policy=config.password_policy)
            session.commit()
    except errors.V6Error as exc:
        fail(exc)
        return
    click.echo(f"organizations: {len(report.organizations)}, users: {len(report.users)}, "
               f"collaborations: {len(report.collaborations)}, new nodes: "
               f"{len(report.nodes)}")
    for node, key in report.api_keys.items():
        click.echo(f"api key for node {node!r}: {key}")


@server.command("reset-password")
@click.argument("username")
@click.option("--config", "name", required=True, help="Server config name or path.")
@click.option("--two-factor", is_flag=True,
              help="A token that removes the user's second factor instead (the user also "
                   "needs the password).")
def reset_password(username: str, name: str, two_factor: bool) -> None:
    """Print a one-time recovery token for USERNAME, to hand over in person.

    For servers without mail (no smtp section). The token is valid
    email_token_validity_minutes, works once, and replaces any older one; it is
    printed here only, never logged.
    """
    from v6lib.server.db.base import utcnow
    from v6lib.server.services.recovery import admin_reset_token

    try:
        config = _load(name)
        with _database(config) as session:
            token = admin_reset_token(session, username, "mfa" if two_factor else "password",
                                      now=utcnow(), minutes=config.email_token_validity_minutes)
            session.commit()
    except errors.V6Error as exc:
        fail(exc)
        return
    api = config.api_path
    use = (f"POST {api}/recover/2fa/reset with {{\"reset_token\": ..., \"password\": ...}} "
           "(the user's password), or client.user.reset_two_factor(token, password)"
           if two_factor else
           f"POST {api}/recover/reset with {{\"reset_token\": ..., \"password\": ...}} "
           "(the new password), or client.user.reset_password(token, new_password)")
    click.echo(f"one-time token for {username!r}, valid {config.email_token_validity_minutes} "
               f"minutes; use it with {use}:", err=True)
    click.echo(token)


@server.command("rotate-key")
@click.argument("name")
def rotate_key(name: str) -> None:
    """Replace the token signing key file with a new random key.

    Every token signed with the old key is refused once the servers restart with the
    new one: users log in again, nodes log in again by themselves with their API keys.
    Copy the new file to every other instance before restarting them.
    """
    from v6lib.server.signing_key import rotate_key_file

    try:
        config = _load(name)
        with _database(config) as session:
            path = rotate_key_file(session, config)
            session.commit()
    except errors.V6Error as exc:
        fail(exc)
        return
    click.echo(f"wrote a new token signing key to {path}; copy it (mode 0600) to every other "
               "server instance, then restart them all: every session ends")
