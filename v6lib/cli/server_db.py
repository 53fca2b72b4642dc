"""``v6 server`` commands that work on the server's database directly: import, recovery
tokens, the token signing key, and an interactive shell.

They need no running server (the database is migrated first), which is also why they
must run on the server machine: they read the configuration with its database password.
"""

from __future__ import annotations

import code
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import click

from v6lib import errors
from v6lib.cli._configs import fail
from v6lib.cli._instance import load_instance
from v6lib.cli._refused import refused_options
from v6lib.cli._select import Selection, select_config

__all__ = ["database_session", "import_cmd", "reset_password", "rotate_key", "shell"]


def database_session(config: Any) -> AbstractContextManager[Any]:
    """A session on the server's database, migrated first; the caller commits."""
    from v6lib.server.db.migrate import migrated_session

    return migrated_session(str(config.uri))


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@select_config("server", positional=False)
@refused_options("server import")
def import_cmd(file: Path, selection: Selection) -> None:
    """Import organizations, users and collaborations from a YAML FILE."""
    from v6lib.server.importer import import_file

    try:
        config = load_instance(selection).config
        with database_session(config) as session:
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


@click.command("reset-password")
@click.argument("username")
@select_config("server", positional=False)
@click.option("--two-factor", is_flag=True,
              help="A token that removes the user's second factor instead (the user also "
                   "needs the password).")
def reset_password(username: str, selection: Selection, two_factor: bool) -> None:
    """Print a one-time recovery token for USERNAME, to hand over in person.

    For servers without mail (no smtp section). The token is valid
    email_token_validity_minutes, works once, and replaces any older one; it is
    printed here only, never logged.
    """
    from v6lib.server.db.base import utcnow
    from v6lib.server.services.recovery import admin_reset_token

    try:
        config = load_instance(selection).config
        with database_session(config) as session:
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


@click.command("rotate-key")
@select_config("server")
def rotate_key(selection: Selection) -> None:
    """Replace the token signing key file with a new random key.

    Every token signed with the old key is refused once the servers restart with the
    new one: users log in again, nodes log in again by themselves with their API keys.
    Copy the new file to every other instance before restarting them.
    """
    from v6lib.server.signing_key import rotate_key_file

    try:
        config = load_instance(selection).config
        with database_session(config) as session:
            path = rotate_key_file(session, config)
            session.commit()
    except errors.V6Error as exc:
        fail(exc)
        return
    click.echo(f"wrote a new token signing key to {path}; copy it (mode 0600) to every other "
               "server instance, then restart them all: every session ends")


@click.command("shell")
@select_config("server")
def shell(selection: Selection) -> None:
    """An interactive Python shell on the server's database.

    ``session`` is a SQLAlchemy session (commit to keep changes), ``models`` the
    database models, ``select`` SQLAlchemy's ``select`` and ``config`` the server's
    configuration. Changes bypass the API's permission checks: use it for repairs.
    """
    from sqlalchemy import func, select

    from v6lib.server.db import models

    try:
        config = load_instance(selection).config
        with database_session(config) as session:
            banner = (f"v6 server shell: '{config.name}' on "
                      f"{session.get_bind().url.render_as_string(hide_password=True)}\n"
                      "names: session, models, select, func, config "
                      "(e.g. session.scalars(select(models.User)).all()); Ctrl+D leaves")
            code.interact(banner=banner, exitmsg="", local={
                "session": session, "models": models, "select": select, "func": func,
                "config": config})
    except errors.V6Error as exc:
        fail(exc)
